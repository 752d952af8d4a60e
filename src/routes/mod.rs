//! HTTP handlers: extract, call, map errors. Rules live in `domain`, storage in `persistence`.

pub mod applicant;
pub mod auth_login;
pub mod courier;
pub mod error;
pub mod error_codes;
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
            modifiers(&BearerAuth, &ClientContract)
        )]
        pub struct ApiDoc;

        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(cfg.service($handler);)+
        }
    };
}

// The router tries these in order: WeChat's callback, the busiest path by far, comes first.
endpoints!(
    wechat_callback::push,
    wechat_callback::verify,
    ops::healthz,
    ops::readyz,
    ops::metrics,
    error_codes::error_codes,
    institutions::list_institutions,
    verify::verify,
    sessions::officer_session,
    sessions::hospital_session,
    auth_login::login,
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

/// What a generated client needs beyond what the handlers' annotations say: every 4xx and 5xx
/// answers `ErrorBody` (and every operation may answer 500); `code` is the catalogue's enum and
/// `state` the application states'; the creating POSTs take an `Idempotency-Key` header.
struct ClientContract;

impl utoipa::Modify for ClientContract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};

        let error_content = || Content::new(Some(Ref::from_schema_name("ErrorBody")));
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations =
                [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch].into_iter().flatten();
            for operation in operations {
                let responses = &mut operation.responses.responses;
                responses.entry("500".into()).or_insert_with(|| {
                    RefOr::T(
                        ResponseBuilder::new().description("internal_error (the request id identifies it)").build(),
                    )
                });
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        if (status.starts_with('4') || status.starts_with('5')) && response.content.is_empty() {
                            response.content.insert("application/json".into(), error_content());
                        }
                    }
                }
                // Of these paths only the POST has a body (the GETs list).
                if IDEMPOTENT_POSTS.contains(&path.as_str()) && operation.request_body.is_some() {
                    let header = ParameterBuilder::new()
                        .name("Idempotency-Key")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some("1–64 visible characters; the first answer is repeated for 24 h"))
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String).max_length(Some(64))))
                        .build();
                    operation.parameters.get_or_insert_with(Vec::new).push(header);
                }
            }
        }
        let Some(components) = openapi.components.as_mut() else { return };
        let state_enum = |description: &str| {
            let states = crate::domain::application_state::ApplicationState::ALL.iter().map(|s| s.as_str());
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .enum_values(Some(states))
                .build()
        };
        // Every answer that names an application's state names one of the state machine's.
        for name in ["ApplicationView", "MovedAnswer"] {
            if let Some(RefOr::T(Schema::Object(view))) = components.schemas.get_mut(name) {
                view.properties.insert("state".into(), RefOr::T(Schema::Object(state_enum("the application's state"))));
            }
        }
        if let Some(RefOr::T(Schema::Object(body))) = components.schemas.get_mut("ErrorBody") {
            let codes = error_codes::CATALOGUE.iter().map(|c| c.code);
            let code = ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("stable, snake_case; see GET /api/v1/error-codes"))
                .enum_values(Some(codes));
            body.properties.insert("code".into(), RefOr::T(Schema::Object(code.build())));
            let state = state_enum("with wrong_state: the application's current state");
            body.properties.insert("state".into(), RefOr::T(Schema::Object(state)));
        }
    }
}

/// The POSTs that honour `Idempotency-Key` (see `idempotency`).
const IDEMPOTENT_POSTS: [&str; 2] = ["/api/v1/health-cards", "/api/v1/applications"];
