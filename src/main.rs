fn main() -> std::process::ExitCode {
  std::process::ExitCode::from(u8::try_from(litops::cli::main()).unwrap_or(1))
}
