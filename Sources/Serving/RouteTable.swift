import Hummingbird

/// Every route the service answers, in one list: the router is built from the routes with a
/// handler (`POST /predict` is answered before it), and a request for one of its paths with another method is answered 405 with an `Allow` header instead of 404.
struct RouteTable: Sendable {
    typealias Handler = @Sendable (Request, BasicRequestContext) async throws -> Response

    struct Route: Sendable {
        let method: HTTPRequest.Method
        /// A Hummingbird route pattern: `{name}` stands for one path segment.
        let path: String
        /// Nil for a route answered in the channel pipeline, before the router (`PredictChannelHandler`).
        let handler: Handler?
    }

    let routes: [Route]

    init(_ routes: [Route]) { self.routes = routes }

    func register(on router: Router<BasicRequestContext>) {
        for route in routes {
            guard let handler = route.handler else { continue }
            router.on(RouterPath(route.path), method: route.method, use: handler)
        }
    }

    /// The methods `path` is served with (HEAD with GET: the router answers it for every GET
    /// route); nil when no route has that path.
    func methods(for path: String) -> [HTTPRequest.Method]? {
        let segments = Self.segments(path)
        let methods = routes.filter { route in
            let pattern = Self.segments(route.path)
            return pattern.count == segments.count && zip(pattern, segments).allSatisfy { expected, actual in
                (expected.hasPrefix("{") && expected.hasSuffix("}")) || expected == actual
            }
        }.map(\.method)
        guard !methods.isEmpty else { return nil }
        return methods.contains(.get) ? methods + [.head] : methods
    }

    /// As the router splits a path: empty segments (`//`, a trailing `/`) do not count.
    static func segments<Path: StringProtocol>(_ path: Path) -> [Path.SubSequence] {
        path.split(separator: "/")
    }
}
