//! `cargo run -p mock_wechat -- --port P --service-url http://127.0.0.1:S`

use clap::Parser;

#[derive(Parser)]
#[command(about = "Mock WeChat platform for birthcert")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Where the mock sends callbacks (official account, payment, courier).
    #[arg(long)]
    service_url: Option<String>,
}

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut settings = mock_wechat::MockSettings::from_env();
    if let Some(url) = args.service_url {
        settings.service_url = Some(url);
    }
    match mock_wechat::MockServer::start(&args.host, args.port, settings).await {
        Ok(server) => {
            eprintln!("mock_wechat listening on {}:{}", args.host, server.port());
            let _ = tokio::signal::ctrl_c().await;
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("mock_wechat: cannot listen on {}:{}: {e}", args.host, args.port);
            std::process::ExitCode::FAILURE
        }
    }
}
