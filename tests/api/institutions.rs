use birthcert::domain::OfficeHours;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn lists_pingyins_three_institutions_with_phones_hours_and_open_now() {
    let app = spawn_app().await;
    let hours = OfficeHours::parse(&["08:30-12:00", "14:30-17:30"]).expect("hours");
    // Taken on both sides of the request, so a request that straddles an opening or closing
    // minute is judged by either.
    let open_before = hours.is_open(&app.state.calendar, chrono::Utc::now());
    let res = app.get("/api/v1/institutions").await;
    let open_after = hours.is_open(&app.state.calendar, chrono::Utc::now());
    assert_eq!(res.status(), 200);
    let list: Vec<Value> = res.json().await.expect("json");
    assert_eq!(list.len(), 3);
    let names: Vec<&str> = list.iter().map(|i| i["name"].as_str().expect("name")).collect();
    assert!(names.contains(&"平阴县人民医院"));
    assert!(names.contains(&"平阴县中医医院"));
    assert!(names.contains(&"平阴县妇幼保健计划生育服务中心"));
    for i in &list {
        assert!(
            i["phone"].as_str().expect("phone").starts_with("0531-8789")
                || i["phone"].as_str().expect("phone").starts_with("0531-8788")
        );
        assert_eq!(i["office_hours"], serde_json::json!(["08:30-12:00", "14:30-17:30"]));
        assert_eq!(i["province_code"], "37");
        assert_eq!(i["midwifery_qualified"], true);
        assert!(
            i["open_now"] == open_before || i["open_now"] == open_after,
            "open_now must follow office hours and the working-day calendar: {i}"
        );
    }
}
