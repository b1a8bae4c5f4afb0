// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sentinel",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "registry-cli", targets: ["registry-cli"]),
        .library(name: "Registry", targets: ["Registry"]),
        .library(name: "ModelRuntime", targets: ["ModelRuntime"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        .target(
            name: "Serving",
            dependencies: ["Registry", "ModelRuntime", .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(
            name: "registry-cli",
            dependencies: [
                "Registry",
                "Serving",
                "ModelRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "sentinel-bench",
            dependencies: ["Registry", "ModelRuntime", "Serving", .product(name: "Logging", package: "swift-log")],
            path: "bench/Sources/sentinel-bench"
        ),
        .testTarget(name: "RegistryTests", dependencies: ["Registry", "RegistrySchema", "CSQLite"]),
        .testTarget(name: "ModelRuntimeTests", dependencies: ["ModelRuntime"]),
        .testTarget(name: "CLITests", dependencies: ["Registry"]),
    ]
)
