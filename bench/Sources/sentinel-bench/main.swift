// sentinel-bench: the numbers behind Sentinel's performance claims, printed, never asserted.
//
//   sentinel-bench runtime ARTIFACT FORMAT ROWS.f64 FEATURES   single-thread scoring latency and throughput (JSON)
//   sentinel-bench registry WORKDIR REGISTRY_CLI MODELS_DIR    register a 10 MB artifact; list/show on 1,000 versions
//   sentinel-bench http-ceiling [PORT]                         the bare HTTP stack answering a constant (bench/serve.sh)
//   sentinel-bench status-page WORKDIR [MODELS_DIR]            the status page's server time and size on 1,000,000 audit rows
//
// bench/runtime.sh (with runtime.py) and bench/serve.sh drive these and put the peers beside them.
import Foundation
import ModelRuntime
import Registry

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: sentinel-bench runtime|registry|http-ceiling|status-page ...\n".utf8))
    exit(2)
}
switch arguments[1] {
case "runtime":
    try RuntimeBenchmark(arguments: Array(arguments.dropFirst(2))).run()
case "registry":
    try RegistryBenchmark(arguments: Array(arguments.dropFirst(2))).run()
case "http-ceiling":
    try await HTTPCeiling.run(arguments: Array(arguments.dropFirst(2)))
case "status-page":
    try StatusPageBenchmark(arguments: Array(arguments.dropFirst(2))).run()
default:
    FileHandle.standardError.write(Data("unknown benchmark \(arguments[1])\n".utf8))
    exit(2)
}
