#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use cedar_policy::*;
use std::str::FromStr;
use std::time::Instant;
fn main() {
    let src = format!("{}\nentity Doc;\naction \"a0\" appliesTo {{ principal: [Agent], resource: [Doc], context: {{ now: datetime, task?: Task, credential?: Credential, on_behalf_of?: User, source_ip?: ipaddr, endpoint?: String, input?: {{ size?: Long }} }} }};", include_str!("../src/base.cedarschema"));
    let (schema, _) = Schema::from_cedarschema_str(&src).unwrap();
    let action = EntityUid::from_str("Action::\"a0\"").unwrap();
    let v = serde_json::json!({"source_ip": "10.1.2.3", "endpoint": "vpce-1", "input": {"size": 3}, "now": "2026-11-29T10:00:00Z"});
    let n = 20000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            Context::from_json_value(v.clone(), Some((&schema, &action))).unwrap(),
        );
    }
    println!("from_json_value: {:?}/op", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        let pairs = vec![
            (
                "source_ip".to_string(),
                RestrictedExpression::new_ip("10.1.2.3"),
            ),
            (
                "endpoint".to_string(),
                RestrictedExpression::new_string("vpce-1".into()),
            ),
            (
                "input".to_string(),
                RestrictedExpression::new_record([(
                    "size".to_string(),
                    RestrictedExpression::new_long(3),
                )])
                .unwrap(),
            ),
            (
                "now".to_string(),
                RestrictedExpression::new_datetime("2026-11-29T10:00:00Z"),
            ),
        ];
        std::hint::black_box(Context::from_pairs(pairs).unwrap());
    }
    println!("from_pairs: {:?}/op", t.elapsed() / n);
    let ctx = Context::from_json_value(v.clone(), Some((&schema, &action))).unwrap();
    let p = EntityUid::from_str("Agent::\"x\"").unwrap();
    let r = EntityUid::from_str("Doc::\"d\"").unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            Request::new(
                p.clone(),
                action.clone(),
                r.clone(),
                ctx.clone(),
                Some(&schema),
            )
            .unwrap(),
        );
    }
    println!("Request::new validated: {:?}/op", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(
            Request::new(p.clone(), action.clone(), r.clone(), ctx.clone(), None).unwrap(),
        );
    }
    println!("Request::new unvalidated: {:?}/op", t.elapsed() / n);
}
