// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sentinel",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "registry-cli", targets: ["registry-cli"]),
        .library(name: "Registry", targets: ["Registry"]),
        .library(name: "ModelRuntime", targets: ["ModelRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // libsqlite3 from the system; the shim only wraps what Swift cannot call directly.
        .systemLibrary(
            name: "CSQLite",
            path: "Sources/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // The numbered SQL files in migrations/ are the schema; this target embeds them in the binary
        // so nothing depends on a path at run time.
        .target(
            name: "RegistrySchema",
            path: "migrations",
            exclude: ["README.md"],
            sources: ["RegistrySchema.swift"],
            resources: [
                .embedInCode("001_registry.sql"),
                .embedInCode("002_audit.sql"),
                .embedInCode("003_audit_minutes.sql"),
                .embedInCode("004_version_decision_fixed.sql"),
                .embedInCode("005_no_replace.sql"),
            ]
        ),
        // Pure model evaluators: XGBoost JSON, LightGBM text, logistic JSON. No I/O.
        .target(name: "ModelRuntime"),
        .target(
            name: "Registry",
            dependencies: [
                "CSQLite",
                "RegistrySchema",
                "ModelRuntime",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The scoring service: HTTP API, hot reload of the active version, group-committed audit log.
        .target(
            name: "Serving",
            dependencies: [
                "Registry",
                "ModelRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.embedInCode("openapi.yaml")]
        ),
        .executableTarget(
            name: "registry-cli",
            dependencies: [
                "Registry",
                "Serving",
                "ModelRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "sentinel-bench",
            dependencies: [
                "Registry", "ModelRuntime", "Serving",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            path: "bench/Sources/sentinel-bench"
        ),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "RegistrySchema", "CSQLite"]),
        .testTarget(name: "ModelRuntimeTests", dependencies: ["ModelRuntime"]),
        // What more than one test target needs: another process holding the write lock, hand edits.
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(name: "CLITests", dependencies: ["Registry", "TestSupport"]),
        .testTarget(
            name: "ServingTests",
            dependencies: [
                "TestSupport",
                "Serving",
                "Registry",
                "ModelRuntime",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
    ]
)
