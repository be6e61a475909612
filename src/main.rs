// mimalloc: intake allocates many small, short-lived buffers across threads (request bodies, SQL
// arguments); it measured faster than the system allocator in `zhiban bench ingest`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    zhiban::cli::main()
}
