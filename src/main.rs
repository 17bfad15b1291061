fn main() {
    std::process::exit(eventbench::cli::main());
}
