import Foundation

/// What this process may do with a file, asked as its effective user: the one whose files SQLite
/// makes beside the registry, and whose refusals the kernel gives.
enum FileAccess {
    static func allows(_ mode: Int32, _ path: String) -> Bool { faccessat(AT_FDCWD, path, mode, AT_EACCESS) == 0 }
}
