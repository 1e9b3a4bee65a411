// Replays a corpus through a fuzz target without libFuzzer, so every compiler (and every
// sanitizer build) re-checks the inputs a fuzzing run found interesting.
//
//   fuzz-address-replay tests/fuzz/corpus/address [more files or folders]
//
// A finding aborts (the targets use assertions that survive NDEBUG), so a failing input
// makes this program fail; it names each file before running it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int replay(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "cannot read %s\n", file.c_str());
        return 1;
    }
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.c_str(), bytes.size());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
        return 2;
    }
    int failures = 0;
    std::size_t count = 0;
    for (int i = 1; i < argc; ++i) {
        std::filesystem::path arg(argv[i]);
        std::error_code ec;
        if (std::filesystem::is_directory(arg, ec)) {
            std::vector<std::filesystem::path> files;
            for (const auto& entry : std::filesystem::recursive_directory_iterator(arg))
                if (entry.is_regular_file()) files.push_back(entry.path());
            std::sort(files.begin(), files.end());  // the same order on every machine
            for (const auto& f : files)
                failures += replay(f), ++count;
        } else {
            failures += replay(arg), ++count;
        }
    }
    if (count == 0) {
        std::fprintf(stderr, "no inputs found: an empty corpus checks nothing\n");
        return 1;
    }
    std::printf("%zu inputs replayed, %d unreadable\n", count, failures);
    return failures == 0 ? 0 : 1;
}
