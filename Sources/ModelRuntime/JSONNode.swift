/// A value from a parsed JSON artifact together with its path, so that every refusal can say where
/// in the file the problem is (`learner.gradient_booster.model.trees[3].left_children`).
struct JSONNode {
    let value: JSONValue
    let path: String

    static func parse(_ bytes: [UInt8], what: String) throws(ModelLoadError) -> JSONNode {
        let value: JSONValue
        do throws(JSONParseError) { value = try JSONParser.parse(bytes) } catch {
            // XGBoost 2.x writes a bare NaN (no JSON value) into categorical splits' split_conditions.
            if bytes.dropFirst(error.offset).starts(with: Array("NaN".utf8)) {
                throw ModelLoadError.unsupported("\(what) holds a bare NaN at byte \(error.offset), which JSON does not allow (XGBoost 2.x writes one for categorical splits): load it with XGBoost 3 and save it again")
            }
            // UBJSON (save_model("model.ubj")) opens with '{' too, then a type marker.
            if bytes.first == UInt8(ascii: "{"), let marker = bytes.dropFirst().first, "#$iUIlLdDSTFZ".utf8.contains(marker) {
                throw ModelLoadError.unsupported("\(what) is UBJSON (a .ubj file), not JSON: save it with save_model(\"model.json\")")
            }
            throw ModelLoadError.malformed("\(what) is not valid JSON (truncated or corrupt): \(error)")
        }
        return JSONNode(value: value, path: "")
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member `key`; throws `missingField` naming its path when absent.
    func member(_ key: String) throws(ModelLoadError) -> JSONNode {
        guard case .object(let object) = value else {
            throw ModelLoadError.malformed("\(path.isEmpty ? "the document" : path) is not a JSON object")
        }
        guard let child = object[key], child != .null else { throw ModelLoadError.missingField(childPath(key)) }
        return JSONNode(value: child, path: childPath(key))
    }

    func optionalMember(_ key: String) -> JSONNode? {
        guard case .object(let object) = value, let child = object[key], child != .null else { return nil }
        return JSONNode(value: child, path: childPath(key))
    }

    func array() throws(ModelLoadError) -> [JSONNode] {
        guard case .array(let array) = value else { throw ModelLoadError.malformed("\(path) is not an array") }
        return array.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]") }
    }

    func string() throws(ModelLoadError) -> String {
        guard case .string(let string) = value else { throw ModelLoadError.malformed("\(path) is not a string") }
        return string
    }

    func double() throws(ModelLoadError) -> Double {
        guard let number = Self.number(value) else { throw ModelLoadError.malformed("\(path) is not a number") }
        return number
    }

    /// A number written either as a JSON number or as a string (XGBoost stores its parameters as
    /// strings: `"num_feature": "30"`).
    func numberOrNumericString() throws(ModelLoadError) -> Double {
        if let number = Self.number(value) { return number }
        if case .string(let string) = value, let number = Double(string) { return number }
        throw ModelLoadError.malformed("\(path) is not a number")
    }

    func doubles() throws(ModelLoadError) -> [Double] {
        guard case .array(let array) = value else { throw ModelLoadError.malformed("\(path) is not an array") }
        var result: [Double] = []
        result.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            guard let number = Self.number(element) else {
                throw ModelLoadError.malformed("\(path)[\(index)] is not a number")
            }
            result.append(number)
        }
        return result
    }

    func ints() throws(ModelLoadError) -> [Int] {
        let numbers = try doubles()
        var result: [Int] = []
        result.reserveCapacity(numbers.count)
        for (index, number) in numbers.enumerated() {
            guard number.rounded() == number, abs(number) < 1e15 else {
                throw ModelLoadError.malformed("\(path)[\(index)] is not an integer")
            }
            result.append(Int(number))
        }
        return result
    }

    func strings() throws(ModelLoadError) -> [String] {
        guard case .array(let array) = value else { throw ModelLoadError.malformed("\(path) is not an array") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard case .string(let string) = element else { throw ModelLoadError.malformed("\(path)[\(index)] is not a string") }
            result.append(string)
        }
        return result
    }

    /// JSON true/false count as 1/0: some XGBoost versions write `default_left` as booleans.
    private static func number(_ value: JSONValue) -> Double? {
        switch value {
        case .number(let number): return number
        case .bool(let bool): return bool ? 1 : 0
        default: return nil
        }
    }
}
