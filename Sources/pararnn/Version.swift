/// The package's version: what `pararnn --version` prints (any subcommand takes `--version`
/// too). The one place it is written; bump it here.
///
///     $ pararnn --version
///     0.1.0
enum PararnnVersion {
    static let current = "0.1.0"
}
