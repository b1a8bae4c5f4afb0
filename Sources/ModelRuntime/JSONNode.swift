import Foundation

/// A value from a parsed JSON artifact together with its path, so that every refusal can say where
/// in the file the problem is (`learner.gradient_booster.model.trees[3].left_children`).
struct JSONNode {
    let value: Any
    let path: String

    static func parse(_ bytes: [UInt8], what: String) throws(ModelLoadError) -> JSONNode {
        do {
            let value = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
            return JSONNode(value: value, path: "")
        } catch {
            throw ModelLoadError.malformed("\(what) is not valid JSON (truncated or corrupt)")
        }
    }

    private func childPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The member `key`; throws `missingField` naming its path when absent.
    func member(_ key: String) throws(ModelLoadError) -> JSONNode {
        guard let object = value as? [String: Any] else {
            throw ModelLoadError.malformed("\(path.isEmpty ? "the document" : path) is not a JSON object")
        }
        guard let child = object[key], !(child is NSNull) else { throw ModelLoadError.missingField(childPath(key)) }
        return JSONNode(value: child, path: childPath(key))
    }

    func optionalMember(_ key: String) -> JSONNode? {
        guard let object = value as? [String: Any], let child = object[key], !(child is NSNull) else { return nil }
        return JSONNode(value: child, path: childPath(key))
    }

    func array() throws(ModelLoadError) -> [JSONNode] {
        guard let array = value as? [Any] else { throw ModelLoadError.malformed("\(path) is not an array") }
        return array.enumerated().map { JSONNode(value: $1, path: "\(path)[\($0)]") }
    }

    func string() throws(ModelLoadError) -> String {
        guard let string = value as? String else { throw ModelLoadError.malformed("\(path) is not a string") }
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
        if let string = value as? String, let number = Double(string) { return number }
        throw ModelLoadError.malformed("\(path) is not a number")
    }

    func doubles() throws(ModelLoadError) -> [Double] {
        guard let array = value as? [Any] else { throw ModelLoadError.malformed("\(path) is not an array") }
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
        guard let array = value as? [Any] else { throw ModelLoadError.malformed("\(path) is not an array") }
        var result: [String] = []
        for (index, element) in array.enumerated() {
            guard let string = element as? String else { throw ModelLoadError.malformed("\(path)[\(index)] is not a string") }
            result.append(string)
        }
        return result
    }

    private static func number(_ value: Any) -> Double? {
        if let number = value as? NSNumber {
            // JSON true/false arrive as NSNumber too; treat them as 1/0 (XGBoost's default_left).
            return number.doubleValue
        }
        if let double = value as? Double { return double }
        if let int = value as? Int { return Double(int) }
        if let bool = value as? Bool { return bool ? 1 : 0 }
        return nil
    }
}
