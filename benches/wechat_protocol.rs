//! The callback's hot path: signature check, safe-mode decrypt + parse, encrypted reply.
//! `cargo bench --bench wechat_protocol`

use birthcert::wechat::crypto::AesKey;
use birthcert::wechat::message::Inbound;
use birthcert::wechat::reply::{encrypt_reply, Reply};
use birthcert::wechat::signature;
use criterion::{black_box, criterion_group, criterion_main, Criterion};

const TOKEN: &str = "benchtoken";
const APP_ID: &str = "wxbench0000000001";
const AES_KEY: &str = "y4TQ2qq27oQQobA75tlvk17Teu5bE4WtKGu3FthtDOs";

fn text_message() -> String {
    "<xml><ToUserName><![CDATA[gh_bench00000001]]></ToUserName><FromUserName><![CDATA[oBench_user_openid_0000000001]]></FromUserName>\
     <CreateTime>1714112445</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好，微信！进度查询]]></Content>\
     <MsgId>7000000000000000001</MsgId></xml>"
        .to_string()
}

fn benches(c: &mut Criterion) {
    let key = AesKey::from_encoding_aes_key(AES_KEY).expect("key");
    let sig = signature::sign(&[TOKEN, "1714112445", "1514711492"]);
    c.bench_function("signature verify", |b| {
        b.iter(|| signature::verify(black_box(&[TOKEN, "1714112445", "1514711492"]), black_box(&sig)))
    });

    let encrypted = key.encrypt(&text_message(), APP_ID);
    let msg_sig = signature::sign(&[TOKEN, "1714112445", "1514711492", &encrypted]);
    c.bench_function("msg_signature verify + decrypt + parse", |b| {
        b.iter(|| {
            assert!(signature::verify(&[TOKEN, "1714112445", "1514711492", &encrypted], &msg_sig));
            let plain = key.decrypt(black_box(&encrypted), APP_ID).expect("decrypts");
            Inbound::parse(&plain).expect("parses")
        })
    });

    let plain = text_message();
    c.bench_function("parse plaintext message", |b| b.iter(|| Inbound::parse(black_box(&plain)).expect("parses")));

    let reply = Reply::Text("你好，微信！这是回复内容。".into());
    c.bench_function("build + encrypt reply", |b| {
        b.iter(|| {
            let xml = reply.to_xml("oBench_user_openid_0000000001", "gh_bench00000001", 1714112445);
            encrypt_reply(black_box(&xml), &key, APP_ID, TOKEN, 1714112445, "abcdef0123456789")
        })
    });
}

/// WeChat Pay v3: the merchant's SHA256-RSA signature (two per order: the API call and the
/// mini-program's paySign) and the platform signature check of each notification.
fn pay(c: &mut Criterion) {
    let pem =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/dev-keys/merchant.pem")).expect("key");
    let signer = birthcert::wechat::pay::MerchantSigner::from_pem(&pem).expect("signer");
    let message = "POST\n/v3/pay/transactions/jsapi\n1764122400\nnonce\n{\"amount\":{\"total\":1800}}\n";
    c.bench_function("merchant SHA256-RSA sign (2048)", |b| b.iter(|| signer.sign(black_box(message))));
}

criterion_group!(protocol, benches, pay);
criterion_main!(protocol);
