fn main() -> std::process::ExitCode {
    zhiban::cli::main()
}
