/// The bound on the category bitsets a model's categorical splits hold. Each split gets its own
/// bitset, and an artifact of a few hundred kilobytes can point thousands of splits at one huge
/// category set: refused at load rather than allocated.
enum CategoryBitsets {
    /// The most bitset words one model may hold (64 MiB).
    static let maxWords = 1 << 24

    /// Throws when `adding` more words to the `held` ones would pass `maxWords`.
    static func checkRoom(held: Int, adding: Int, tree: Int) throws(ModelLoadError) {
        guard adding <= maxWords - held else {
            throw ModelLoadError.unsupported("tree \(tree): the categorical splits' bitsets need more than \(maxWords) words (64 MiB)")
        }
    }
}
