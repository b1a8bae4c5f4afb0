import Foundation

/// SQLite's `-wal` and `-shm` files of a registry, where SQLite puts them: beside the file a
/// symbolic link leads to, not beside the link.
struct WALFiles {
    /// The registry's own path, links resolved.
    let database: String
    var wal: String { database + "-wal" }
    var shm: String { database + "-shm" }

    init(of path: String) {
        if let resolved = realpath(path, nil) {
            database = String(cString: resolved)
            free(resolved)
        } else {
            database = path
        }
    }

    /// Whether both files are there, as they are while any process has the registry open.
    var exist: Bool { FileManager.default.fileExists(atPath: wal) && FileManager.default.fileExists(atPath: shm) }

    /// Whether the registry's header says WAL (read and write versions 2): a reader makes the files
    /// only then, not for a copy in rollback-journal mode.
    var databaseIsInWALMode: Bool {
        guard let handle = FileHandle(forReadingAtPath: database) else { return false }
        defer { try? handle.close() }
        guard let header = try? handle.read(upToCount: 20), header.count == 20 else { return false }
        return header[header.startIndex + 18] == 2 && header[header.startIndex + 19] == 2
    }

    /// The owner of the first of the two files that this process may not write and that is not
    /// the registry owner's, or nil.
    func foreignOwner(registryOwner: uid_t) -> uid_t? {
        for file in [wal, shm] {
            var info = stat()
            if stat(file, &info) == 0, !FileAccess.allows(W_OK, file), info.st_uid != registryOwner { return info.st_uid }
        }
        return nil
    }
}
