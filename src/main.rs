fn main() -> std::process::ExitCode {
    shenzi::cli::main()
}
