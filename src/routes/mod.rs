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
pub mod uploads;
pub mod verify;
pub mod wechat_callback;

use actix_web::web;
use utoipa::OpenApi;

/// Every endpoint, named once: the list becomes both the OpenAPI document's paths and the
/// services registered with actix, so neither can miss one the other has.
macro_rules! endpoints {
    ($($handler:path),+ $(,)?) => {
        #[derive(OpenApi)]
        #[openapi(
            info(title = "birthcert", description = "Online first issuance of the birth medical certificate (出生医学证明), Pingyin county."),
            paths($($handler),+),
            components(schemas(crate::routes::error::ErrorBody, crate::routes::error::FieldError)),
            modifiers(&BearerAuth)
        )]
        pub struct ApiDoc;

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.service($handler);)+
        }
    };
}

endpoints!(
    ops::healthz,
    ops::readyz,
    institutions::list_institutions,
    verify::verify,
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
    applicant::current_consents,
    applicant::give_consent,
    applicant::start_face_session,
    applicant::face_result,
    uploads::put_document,
    uploads::post_document,
    uploads::put_handheld_photo,
    uploads::post_handheld_photo,
    applicant::registration_form,
    applicant::request_modification,
    applicant::confirm,
    uploads::put_signature,
    uploads::post_signature,
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
    officer::search,
    officer::document,
    officer::return_application,
    officer::refer,
    officer::archive,
    uploads::put_loss_certificate,
    uploads::post_loss_certificate,
    officer::approve,
    officer::ship,
    officer::registration_form_pdf,
    officer::modification_requests,
    officer::decide_modification,
    officer::loss,
    officer::void,
    officer::recovery,
    officer::certificate_pdf,
    officer::seal,
    officer::receive_stock,
    officer::waste,
    officer::stats,
    officer::first_issuance_register,
    officer::online_issuance_register,
    courier::events,
);

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
