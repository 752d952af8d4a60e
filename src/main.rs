//! The `birthcert` binary: parses the command line (`cli`) and prints one line on failure.

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = birthcert::cli::Cli::parse();
    match birthcert::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One clear line, no backtrace.
            eprintln!("birthcert: {e}");
            ExitCode::FAILURE
        }
    }
}
