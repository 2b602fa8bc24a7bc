//! The `iamgate` binary: everything lives in the library; this only dispatches.

fn main() -> std::process::ExitCode {
    iamgate::cli::main()
}
