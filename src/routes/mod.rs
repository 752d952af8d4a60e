//! HTTP handlers: extract, call, map errors. Rules live in `domain`, storage in `persistence`.

pub mod applicant;
pub mod auth_login;
pub mod courier;
pub mod error;
pub mod extract;
pub mod hospital;
pub mod idempotency;
pub mod institutions;
pub mod officer;
pub mod ops;
pub mod payments;
pub mod sessions;
pub mod wechat_callback;

use actix_web::web;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "birthcert", description = "Online first issuance of the birth medical certificate (出生医学证明), Pingyin county."),
    paths(
        ops::healthz,
        ops::readyz,
        institutions::list_institutions,
        sessions::officer_session,
        sessions::hospital_session,
        auth_login::login,
        wechat_callback::verify,
        wechat_callback::push,
        applicant::bind_health_card,
        applicant::list_health_cards,
        applicant::list_deliveries,
        applicant::create_application,
        applicant::list_applications,
        applicant::get_application,
        applicant::put_parents,
        applicant::withdraw,
        applicant::start_face_session,
        applicant::face_result,
        applicant::put_document,
        applicant::put_handheld_photo,
        applicant::registration_form,
        applicant::request_modification,
        applicant::confirm,
        applicant::sign,
        applicant::set_address,
        applicant::record_subscriptions,
        payments::create_payment,
        payments::notify,
        applicant::resubmit,
        hospital::create_delivery,
        hospital::correct_delivery,
        hospital::list_deliveries,
        officer::queue,
        officer::detail,
        officer::document,
        officer::return_application,
        officer::approve,
        officer::ship,
        officer::registration_form_pdf,
        officer::modification_requests,
        officer::decide_modification,
        officer::loss,
        officer::void,
        officer::recovery,
        officer::receive_stock,
        officer::waste,
        officer::stats,
        officer::first_issuance_register,
        officer::online_issuance_register,
        courier::events,
    ),
    components(schemas(crate::routes::error::ErrorBody, crate::routes::error::FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(institutions::list_institutions)
        .service(sessions::officer_session)
        .service(sessions::hospital_session)
        .service(auth_login::login)
        .service(wechat_callback::verify)
        .service(wechat_callback::push)
        .service(applicant::bind_health_card)
        .service(applicant::list_health_cards)
        .service(applicant::list_deliveries)
        .service(applicant::create_application)
        .service(applicant::list_applications)
        .service(applicant::get_application)
        .service(applicant::put_parents)
        .service(applicant::withdraw)
        .service(applicant::start_face_session)
        .service(applicant::face_result)
        .service(applicant::put_document)
        .service(applicant::put_handheld_photo)
        .service(applicant::registration_form)
        .service(applicant::request_modification)
        .service(applicant::confirm)
        .service(applicant::sign)
        .service(applicant::set_address)
        .service(applicant::record_subscriptions)
        .service(payments::create_payment)
        .service(payments::notify)
        .service(applicant::resubmit)
        .service(hospital::create_delivery)
        .service(hospital::correct_delivery)
        .service(hospital::list_deliveries)
        .service(officer::queue)
        .service(officer::detail)
        .service(officer::document)
        .service(officer::return_application)
        .service(officer::approve)
        .service(officer::ship)
        .service(officer::registration_form_pdf)
        .service(officer::modification_requests)
        .service(officer::decide_modification)
        .service(officer::loss)
        .service(officer::void)
        .service(officer::recovery)
        .service(officer::receive_stock)
        .service(officer::waste)
        .service(officer::stats)
        .service(officer::first_issuance_register)
        .service(officer::online_issuance_register)
        .service(courier::events);
}
