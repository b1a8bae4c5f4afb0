import Logging
import NIOPosix
import Registry
import Synchronization

/// One registry connection kept between uses by a background service or a controller: opened on
/// first use, and dropped after any error so that the next use opens a fresh one.
///
/// SQLite blocks, and the event loops are also Swift concurrency's executor (see `registry-cli
/// serve`), so callers on them go through `onBlockingPool`; the background polls already run there.
/// The lock makes uses one at a time, as a connection requires.
final class RegistryConnection: Sendable {
    let path: String
    let access: Registry.Access
    let busyTimeoutMilliseconds: Int32
    let logger: Logger
    /// The only file this connection may open (see `ServiceConfiguration.registryFile`).
    let file: FileIdentity?
    private let registry = Mutex<Registry?>(nil)

    init(_ configuration: ServiceConfiguration, access: Registry.Access, logger: Logger) {
        path = configuration.databasePath
        file = configuration.registryFile
        self.access = access
        busyTimeoutMilliseconds = configuration.busyTimeoutMilliseconds
        self.logger = logger
    }

    /// Runs `body` with the connection, opening it first if needed. Blocks: call it off the event loops.
    func use<T: Sendable>(_ body: (Registry) throws -> T) throws -> T {
        try registry.withLock { registry in
            do {
                if registry == nil {
                    // Looked at before SQLite opens it: opening reads it, through the other file's WAL.
                    guard file == nil || FileIdentity(path: path) == file else { throw RegistryError.fileReplaced(path: path) }
                    let opened = try Registry.open(path: path, access: access, busyTimeoutMilliseconds: busyTimeoutMilliseconds, logger: logger)
                    guard file == nil || opened.openedFile == file else { throw RegistryError.fileReplaced(path: path) }
                    registry = opened
                }
                return try body(registry!)
            } catch {
                registry = nil
                throw error
            }
        }
    }

    /// `use` on NIO's blocking thread pool, for callers on the event loops.
    func onBlockingPool<T: Sendable>(_ body: @escaping @Sendable (Registry) throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive { try self.use(body) }
    }
}
