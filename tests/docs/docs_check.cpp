// docs-check: keeps the generated parts of the documentation identical to their sources.
//
//   docs-check anchors ROOT [--update]             excerpts quoted in *.md == anchored code
//   docs-check changes ROOT [--update]             stages/NN-*/CHANGES.diff == diff -u of the server.cpp
//                                                  of the latest stage before with one (stage 04, a
//                                                  library, has none, so stage 05's is from 03)
//   docs-check matrix ROOT CONFORMANCE [--update]  the embedded matrix == echo-conformance --matrix
//   docs-check links ROOT                          every relative link and #heading link resolves
//   docs-check citations ROOT                      file:line citations name the line they quote
//   docs-check failures ROOT                       each failures table names its stage's list exactly,
//                                                  and TUTORIAL.md has one for every stage that lists a case
//   docs-check transcripts ROOT BIN-DIR [SECONDS]  marked command blocks print what the page shows
//                                                  (the last three: docs_text.cpp, docs_transcripts.cpp)
//
// Without --update a check prints one "file:line: problem" per stale spot and exits 1;
// with --update it rewrites what is stale and exits 0. Nothing here needs more than a
// C++ compiler, so the checks run on a machine with no Python, Graphviz or network.
//
// Markdown conventions it understands:
//
//   <!-- include: stages/03-epoll-edge/server.cpp#accept-loop -->     an anchored excerpt,
//   ```cpp                                                            followed by a fenced
//   ...                                                               block holding it
//   ```
//   <!-- include: stages/01-blocking/expected-failures.txt -->        a whole file
//
//   <!-- embed: diagrams/bench-results.md -->  ...  <!-- embed:end -->   markdown pasted verbatim
//   <!-- matrix:begin -->  ...  <!-- matrix:end -->                       the conformance matrix
//
// In source files an anchor is a pair of comment lines, `// ANCHOR: name` and
// `// ANCHOR_END: name` (or with `#` in CMake and shell files). Anchors may nest or
// overlap; marker lines never appear inside an excerpt, and an excerpt loses the
// indentation its lines share, so a block from deep inside a function reads naturally.

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "docs.hpp"

namespace docs {

void Problems::report(const std::string& where, const std::string& what) {
    if (!quiet) std::fprintf(stderr, "%s: %s\n", where.c_str(), what.c_str());
    ++count;
}

std::optional<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    return static_cast<bool>(out.flush());
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// Splits on '\n'. A final newline does not produce an empty last line, so
// join(split(t)) == t for every text that ends in a newline.
Lines split_lines(std::string_view text) {
    Lines lines;
    while (!text.empty()) {
        auto nl = text.find('\n');
        if (nl == std::string_view::npos) {
            lines.emplace_back(text);
            break;
        }
        lines.emplace_back(text.substr(0, nl));
        text.remove_prefix(nl + 1);
    }
    return lines;
}

std::string join_lines(const Lines& lines) {
    std::string text;
    for (const auto& line : lines)
        text += line + '\n';
    return text;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

std::vector<std::string> list_dir(const std::string& dir) {
    std::vector<std::string> names;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* entry = ::readdir(d))
            if (entry->d_name[0] != '.') names.emplace_back(entry->d_name);
        ::closedir(d);
    }
    std::sort(names.begin(), names.end());
    return names;
}

// Runs argv with stdout captured; returns the exit status, or -1 if it could not run.
int run_capture(const std::vector<std::string>& argv, const std::string& cwd, std::string* out) {
    int fds[2];
    if (::pipe(fds) != 0) return -1;
    pid_t pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        ::dup2(fds[1], STDOUT_FILENO);
        ::close(fds[0]);
        ::close(fds[1]);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) _exit(127);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        std::fprintf(stderr, "docs-check: cannot run %s: %s\n", args[0], std::strerror(errno));
        _exit(127);
    }
    ::close(fds[1]);
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n > 0) {
            out->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool is_dir(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// Every markdown file of the project, as paths relative to root. Hidden folders and build
// folders (build, build-asan, ...) are not the project's.
static void find_markdown(const std::string& root, const std::string& dir, std::vector<std::string>* files) {
    for (const auto& name : list_dir(root + "/" + dir)) {
        std::string path = dir + name;
        if (is_dir(root + "/" + path)) {
            if (name != "build" && !starts_with(name, "build-")) find_markdown(root, path + "/", files);
        } else if (name.size() > 3 && name.substr(name.size() - 3) == ".md") {
            files->push_back(path);
        }
    }
}

std::vector<std::string> markdown_files(const std::string& root) {
    std::vector<std::string> files;
    find_markdown(root, "", &files);
    return files;
}

// Value of "<!-- key: value -->" on its own line, if the line is one.
std::optional<std::string> comment_directive(std::string_view line, std::string_view key) {
    line = trim(line);
    if (line == "<!-- " + std::string(key) + " -->") return std::string();
    std::string head = "<!-- " + std::string(key) + ":";
    if (!starts_with(line, head) || line.size() < head.size() + 3 || line.substr(line.size() - 3) != "-->")
        return std::nullopt;
    auto value = trim(line.substr(head.size(), line.size() - head.size() - 3));
    return std::string(value);
}

bool is_fence(std::string_view line) {
    return starts_with(trim(line), "```");
}

}  // namespace docs

namespace {

using namespace docs;

// ---------------------------------------------------------------- anchors

struct Anchor {
    size_t begin = 0, end = 0;  // line indexes of the marker lines
    bool closed = false;
};

// "// ANCHOR: name" -> {"ANCHOR", "name"}; anything else -> nothing.
std::optional<std::pair<std::string, std::string>> anchor_marker(std::string_view line) {
    line = trim(line);
    if (starts_with(line, "//"))
        line.remove_prefix(2);
    else if (starts_with(line, "#"))
        line.remove_prefix(1);
    else
        return std::nullopt;
    line = trim(line);
    for (std::string_view kind : {"ANCHOR_END:", "ANCHOR:"}) {
        if (!starts_with(line, kind)) continue;
        auto name = trim(line.substr(kind.size()));
        bool valid = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
        });
        if (!valid) return std::nullopt;
        kind.remove_suffix(1);
        return std::pair{std::string(kind), std::string(name)};
    }
    return std::nullopt;
}

struct SourceFile {
    Lines lines;
    std::map<std::string, Anchor> anchors;
};

std::optional<SourceFile> load_source(const std::string& root, const std::string& path, Problems* problems) {
    auto text = read_file(root + "/" + path);
    if (!text) return std::nullopt;
    SourceFile file;
    file.lines = split_lines(*text);
    for (size_t i = 0; i < file.lines.size(); ++i) {
        auto marker = anchor_marker(file.lines[i]);
        if (!marker) continue;
        const auto& [kind, name] = *marker;
        std::string where = path + ":" + std::to_string(i + 1);
        auto it = file.anchors.find(name);
        if (kind == "ANCHOR") {
            if (it != file.anchors.end())
                problems->report(where, "anchor '" + name + "' is defined twice");
            else
                file.anchors[name] = Anchor{i, 0, false};
        } else if (it == file.anchors.end() || it->second.closed) {
            problems->report(where, "ANCHOR_END: " + name + " without a matching ANCHOR");
        } else {
            it->second.end = i;
            it->second.closed = true;
        }
    }
    for (const auto& [name, anchor] : file.anchors)
        if (!anchor.closed)
            problems->report(path + ":" + std::to_string(anchor.begin + 1),
                             "anchor '" + name + "' is never closed");
    return file;
}

// The lines between the markers, without nested marker lines, dedented.
Lines excerpt(const SourceFile& file, size_t from, size_t to) {
    Lines lines;
    for (size_t i = from; i < to; ++i)
        if (!anchor_marker(file.lines[i])) lines.push_back(file.lines[i]);
    size_t indent = std::string::npos;
    for (const auto& line : lines)
        if (!trim(line).empty()) indent = std::min(indent, line.find_first_not_of(" \t"));
    for (auto& line : lines)
        line = trim(line).empty() ? "" : line.substr(indent == std::string::npos ? 0 : indent);
    return lines;
}

std::string fence_language(const std::string& path) {
    static const std::map<std::string, std::string> by_extension = {
        {".cpp", "cpp"}, {".hpp", "cpp"},   {".h", "cpp"},       {".txt", "text"}, {".cmake", "cmake"},
        {".sh", "sh"},   {".json", "json"}, {".md", "markdown"}, {".diff", "diff"}};
    auto dot = path.rfind('.');
    if (dot != std::string::npos)
        if (auto it = by_extension.find(path.substr(dot)); it != by_extension.end()) return it->second;
    return path.find("CMakeLists.txt") != std::string::npos ? "cmake" : "text";
}

// Resolves "path#anchor" (or a whole "path") to the lines it stands for.
struct Resolver {
    std::string root;
    Problems* problems;
    std::map<std::string, std::optional<SourceFile>> cache;

    std::optional<Lines> resolve(const std::string& ref, const std::string& where) {
        auto hash = ref.find('#');
        std::string path = ref.substr(0, hash);
        auto [it, inserted] = cache.try_emplace(path);
        if (inserted) it->second = load_source(root, path, problems);
        if (!it->second) {
            problems->report(where, "cannot read " + path);
            return std::nullopt;
        }
        const SourceFile& file = *it->second;
        if (hash == std::string::npos) return excerpt(file, 0, file.lines.size());
        std::string name = ref.substr(hash + 1);
        auto anchor = file.anchors.find(name);
        if (anchor == file.anchors.end()) {
            problems->report(where, "no anchor '" + name + "' in " + path + " (add // ANCHOR: " + name +
                                        " and // ANCHOR_END: " + name + " around the code)");
            return std::nullopt;
        }
        if (!anchor->second.closed) return std::nullopt;
        return excerpt(file, anchor->second.begin + 1, anchor->second.end);
    }
};

// Rewrites one markdown file's includes and embeds; returns its new text.
Lines process_includes(const std::string& md_path, const Lines& in, Resolver* resolver, Problems* problems) {
    Lines out;
    bool in_fence = false;
    for (size_t i = 0; i < in.size(); ++i) {
        const std::string& line = in[i];
        std::string where = md_path + ":" + std::to_string(i + 1);
        if (is_fence(line)) in_fence = !in_fence;
        auto include = in_fence ? std::nullopt : comment_directive(line, "include");
        auto embed = in_fence ? std::nullopt : comment_directive(line, "embed");
        out.push_back(line);
        if (include) {
            auto wanted = resolver->resolve(*include, where);
            std::string path = include->substr(0, include->find('#'));
            size_t j = i + 1;
            if (j < in.size() && is_fence(in[j])) {
                std::string open = in[j];
                size_t close = j + 1;
                while (close < in.size() && !is_fence(in[close]))
                    ++close;
                if (close == in.size()) {
                    problems->report(where, "the code block after this include is never closed");
                    continue;
                }
                Lines current(in.begin() + static_cast<long>(j) + 1, in.begin() + static_cast<long>(close));
                if (wanted && current != *wanted)
                    problems->report(where,
                                     "excerpt differs from " + *include + " (run the docs-update target)");
                out.push_back(open);
                for (const auto& l : wanted ? *wanted : current)
                    out.push_back(l);
                out.push_back(in[close]);
                i = close;
            } else {
                problems->report(where, "include is not followed by a fenced code block");
                if (wanted) {
                    out.push_back("```" + fence_language(path));
                    for (const auto& l : *wanted)
                        out.push_back(l);
                    out.push_back("```");
                }
            }
        } else if (embed) {
            size_t end = i + 1;
            while (end < in.size() && trim(in[end]) != "<!-- embed:end -->")
                ++end;
            if (end == in.size()) {
                problems->report(where, "embed without <!-- embed:end -->");
                continue;
            }
            Lines current(in.begin() + static_cast<long>(i) + 1, in.begin() + static_cast<long>(end));
            auto text = read_file(resolver->root + "/" + *embed);
            if (!text) {
                problems->report(where, "cannot read " + *embed);
                out.insert(out.end(), current.begin(), current.end());
            } else {
                Lines wanted = split_lines(*text);
                if (current != wanted)
                    problems->report(where,
                                     "embedded copy of " + *embed + " is stale (run the docs-update target)");
                out.insert(out.end(), wanted.begin(), wanted.end());
            }
            out.push_back(in[end]);
            i = end;
        }
    }
    return out;
}

int update_or_report(const std::string& path, const Lines& before, const Lines& after, bool update) {
    if (before == after || !update) return 0;
    if (!write_file(path, join_lines(after))) {
        std::fprintf(stderr, "docs-check: cannot write %s\n", path.c_str());
        return 1;
    }
    std::printf("updated %s\n", path.c_str());
    return 0;
}

int check_anchors(const std::string& root, bool update) {
    Problems problems{update};
    Resolver resolver{root, &problems, {}};
    int failures = 0;
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        Lines before = split_lines(*text);
        Lines after = process_includes(md, before, &resolver, &problems);
        failures += update_or_report(root + "/" + md, before, after, update);
    }
    if (update) return failures == 0 ? check_anchors(root, false) : 1;
    return problems.count == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- CHANGES.diff

// The stage folders in order: stages/01-blocking, stages/02-epoll-level, ...
std::vector<std::string> stage_dirs(const std::string& root) {
    std::vector<std::string> dirs;
    for (const auto& name : list_dir(root + "/stages"))
        if (name.size() > 3 && std::isdigit(static_cast<unsigned char>(name[0])) &&
            std::isdigit(static_cast<unsigned char>(name[1])) && name[2] == '-')
            dirs.push_back("stages/" + name);
    return dirs;
}

struct Hunk {
    size_t old_start = 0, old_count = 0, new_start = 0, new_count = 0;
    Lines body;  // each line keeps its ' ', '-' or '+' prefix
};

// Applies a unified diff to `old_text`. Checking the patch by applying it, instead of
// comparing it with a fresh `diff -u`, keeps the check independent of which diff
// program (GNU, BSD, busybox) wrote the file: any correct patch is accepted.
std::optional<std::string> apply_patch(const std::string& old_text, const std::string& patch,
                                       const std::string& old_label, const std::string& new_label,
                                       std::string* why) {
    Lines old_lines = split_lines(old_text);
    if (patch.empty()) return old_text;  // identical files
    bool new_ends_newline = true;
    Lines p = split_lines(patch);
    if (p.size() < 2 || p[0] != "--- " + old_label || p[1] != "+++ " + new_label) {
        *why = "header must be '--- " + old_label + "' / '+++ " + new_label + "' with no timestamps";
        return std::nullopt;
    }
    std::vector<Hunk> hunks;
    for (size_t i = 2; i < p.size(); ++i) {
        const std::string& line = p[i];
        if (starts_with(line, "@@ ")) {
            Hunk h;
            unsigned long a = 0, b = 1, c = 0, d = 1;
            if (std::sscanf(line.c_str(), "@@ -%lu,%lu +%lu,%lu @@", &a, &b, &c, &d) == 4 ||
                std::sscanf(line.c_str(), "@@ -%lu +%lu,%lu @@", &a, &c, &d) == 3 ||
                std::sscanf(line.c_str(), "@@ -%lu,%lu +%lu @@", &a, &b, &c) == 3 ||
                std::sscanf(line.c_str(), "@@ -%lu +%lu @@", &a, &c) == 2) {
                h = Hunk{a, b, c, d, {}};
                hunks.push_back(h);
                continue;
            }
            *why = "malformed hunk header: " + line;
            return std::nullopt;
        }
        if (hunks.empty() || line.empty()) {
            *why = "unexpected line " + std::to_string(i + 1) + ": " + line;
            return std::nullopt;
        }
        if (starts_with(line, "\\ ")) {  // "\ No newline at end of file" qualifies the line before
            char prev = hunks.back().body.empty() ? '-' : hunks.back().body.back()[0];
            if (prev != '-') new_ends_newline = false;
            continue;
        }
        if (line[0] != ' ' && line[0] != '-' && line[0] != '+') {
            *why = "unexpected line " + std::to_string(i + 1) + ": " + line;
            return std::nullopt;
        }
        hunks.back().body.push_back(line);
    }
    Lines result;
    size_t next_old = 0;  // index of the first old line not yet copied
    for (const auto& h : hunks) {
        size_t start = h.old_count == 0 ? h.old_start : h.old_start - 1;
        if (start < next_old || start > old_lines.size()) {
            *why = "hunks out of order or beyond the end of the old file";
            return std::nullopt;
        }
        result.insert(result.end(), old_lines.begin() + static_cast<long>(next_old),
                      old_lines.begin() + static_cast<long>(start));
        size_t pos = start, olds = 0, news = 0;
        for (const auto& line : h.body) {
            std::string content = line.substr(1);
            if (line[0] != '+') {
                if (pos >= old_lines.size() || old_lines[pos] != content) {
                    *why = "line " + std::to_string(pos + 1) + " of " + old_label + " no longer reads '" +
                           content + "'";
                    return std::nullopt;
                }
                ++pos;
                ++olds;
            }
            if (line[0] != '-') {
                result.push_back(content);
                ++news;
            }
        }
        if (olds != h.old_count || news != h.new_count) {
            *why = "hunk line counts do not match its header";
            return std::nullopt;
        }
        next_old = pos;
    }
    result.insert(result.end(), old_lines.begin() + static_cast<long>(next_old), old_lines.end());
    std::string text = join_lines(result);
    if (!new_ends_newline && !text.empty()) text.pop_back();
    return text;
}

int check_changes(const std::string& root, bool update) {
    Problems problems;
    auto dirs = stage_dirs(root);
    std::string base;  // the latest stage so far with one server.cpp
    for (size_t i = 0; i < dirs.size(); ++i) {
        std::string new_path = dirs[i] + "/server.cpp";
        std::string diff_path = dirs[i] + "/CHANGES.diff";
        std::string old_path = base.empty() ? "" : base + "/server.cpp";
        auto new_text = read_file(root + "/" + new_path);
        auto old_text = old_path.empty() ? std::nullopt : read_file(root + "/" + old_path);
        if (new_text) base = dirs[i];
        if (!old_text || !new_text) {
            // A stage without one server.cpp (stage 04 is a library) has no CHANGES.diff:
            // a diff between a program and a library's example would be all minus, all plus.
            // The next single-file stage is diffed against the last one before it.
            if (exists(root + "/" + diff_path))
                problems.report(diff_path, "no server.cpp pair to describe (" + new_path +
                                               " and the one of " + "the stage before); remove it");
            continue;
        }
        if (update) {
            std::string out;
            int status = run_capture(
                {"diff", "-u", "--label", old_path, "--label", new_path, old_path, new_path}, root, &out);
            if (status != 0 && status != 1) {
                problems.report(diff_path, "diff -u failed (is diffutils installed?)");
                continue;
            }
            auto current = read_file(root + "/" + diff_path);
            if (current == out) continue;
            if (!write_file(root + "/" + diff_path, out)) problems.report(diff_path, "cannot write");
            std::printf("updated %s\n", diff_path.c_str());
            continue;
        }
        auto patch = read_file(root + "/" + diff_path);
        if (!patch) {
            problems.report(diff_path, "missing (run the docs-update target)");
            continue;
        }
        std::string why;
        auto applied = apply_patch(*old_text, *patch, old_path, new_path, &why);
        if (!applied)
            problems.report(diff_path, "stale: " + why + " (run the docs-update target)");
        else if (*applied != *new_text)
            problems.report(diff_path, "stale: applied to " + old_path + " it does not give " + new_path +
                                           " (run the docs-update target)");
    }
    return problems.count == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- conformance matrix

int check_matrix(const std::string& root, const std::string& conformance, bool update) {
    std::vector<std::string> argv = {conformance, "--matrix"};
    for (const auto& dir : stage_dirs(root)) {
        std::string list = dir + "/expected-failures.txt";
        auto name = dir.substr(std::string("stages/").size());
        if (exists(root + "/" + list)) argv.push_back(name.substr(0, 2) + "=" + list);
    }
    std::string matrix;
    if (argv.size() == 2) {
        std::fprintf(stderr, "docs-check: no stage has an expected-failures.txt yet\n");
        return 1;
    }
    int status = run_capture(argv, root, &matrix);
    if (status != 0) {
        std::fprintf(stderr, "docs-check: %s --matrix exited with %d\n", conformance.c_str(), status);
        return 1;
    }
    Lines wanted = split_lines(matrix);
    Problems problems{update};
    int embedded = 0;
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        Lines before = split_lines(*text), after;
        for (size_t i = 0; i < before.size(); ++i) {
            after.push_back(before[i]);
            if (trim(before[i]) != "<!-- matrix:begin -->") continue;
            ++embedded;
            size_t end = i + 1;
            while (end < before.size() && trim(before[end]) != "<!-- matrix:end -->")
                ++end;
            std::string where = md + ":" + std::to_string(i + 1);
            if (end == before.size()) {
                problems.report(where, "matrix:begin without matrix:end");
                break;
            }
            if (!std::equal(before.begin() + static_cast<long>(i) + 1,
                            before.begin() + static_cast<long>(end), wanted.begin(), wanted.end()))
                problems.report(where, "conformance matrix is stale (run the docs-update target)");
            after.insert(after.end(), wanted.begin(), wanted.end());
            after.push_back(before[end]);
            i = end;
        }
        if (update_or_report(root + "/" + md, before, after, update) != 0) return 1;
    }
    if (embedded == 0) problems.report(root, "no <!-- matrix:begin --> marker in any markdown file");
    if (update) return check_matrix(root, conformance, false);
    return problems.count == 0 ? 0 : 1;
}

// ---------------------------------------------------------------- links

// The anchor a code host gives a heading: lower case, punctuation dropped, spaces to hyphens,
// and "-1", "-2"... on repeats.
std::vector<std::string> heading_slugs(const Lines& lines) {
    std::vector<std::string> slugs;
    std::map<std::string, int> seen;
    bool in_fence = false;
    for (const auto& line : lines) {
        if (is_fence(line)) in_fence = !in_fence;
        if (in_fence || line.empty() || line[0] != '#') continue;
        auto text = std::string_view(line).substr(line.find_first_not_of('#'));
        std::string slug;
        for (char c : trim(text)) {
            if (std::isalnum(static_cast<unsigned char>(c)))
                slug += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            else if (c == ' ' || c == '-')
                slug += '-';
            else if (c == '_')
                slug += '_';
        }
        int n = seen[slug]++;
        slugs.push_back(n == 0 ? slug : slug + "-" + std::to_string(n));
    }
    return slugs;
}

// Every relative link and #anchor in the markdown files must lead somewhere.
int check_links(const std::string& root) {
    Problems problems;
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        Lines lines = split_lines(*text);
        std::string dir = md.find('/') == std::string::npos ? "" : md.substr(0, md.rfind('/') + 1);
        bool in_fence = false;
        for (size_t i = 0; i < lines.size(); ++i) {
            if (is_fence(lines[i])) in_fence = !in_fence;
            if (in_fence) continue;
            const std::string& line = lines[i];
            for (size_t at = line.find("]("); at != std::string::npos; at = line.find("](", at + 2)) {
                size_t end = line.find(')', at);
                if (end == std::string::npos) break;
                std::string target = line.substr(at + 2, end - at - 2);
                if (target.empty() || target.find("://") != std::string::npos ||
                    starts_with(target, "mailto:"))
                    continue;
                std::string where = md + ":" + std::to_string(i + 1);
                auto hash = target.find('#');
                std::string path = target.substr(0, hash);
                std::string file = path.empty() ? md : dir + path;
                if (!exists(root + "/" + file)) {
                    problems.report(where, "link to " + target + ": no such file");
                    continue;
                }
                if (hash == std::string::npos || file.size() < 3 || file.substr(file.size() - 3) != ".md")
                    continue;
                auto target_text = read_file(root + "/" + file);
                auto slugs = heading_slugs(split_lines(target_text ? *target_text : ""));
                if (std::find(slugs.begin(), slugs.end(), target.substr(hash + 1)) == slugs.end())
                    problems.report(where, "link to " + target + ": no such heading in " + file);
            }
        }
    }
    return problems.count == 0 ? 0 : 1;
}

int usage() {
    std::fprintf(stderr,
                 "usage: docs-check anchors ROOT [--update]\n"
                 "       docs-check changes ROOT [--update]\n"
                 "       docs-check matrix ROOT ECHO-CONFORMANCE [--update]\n"
                 "       docs-check links ROOT\n"
                 "       docs-check citations ROOT\n"
                 "       docs-check failures ROOT\n"
                 "       docs-check transcripts ROOT BIN-DIR [TIMEOUT-SECONDS]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    bool update = false;
    if (!args.empty() && args.back() == "--update") {
        update = true;
        args.pop_back();
    }
    if (args.size() == 2 && args[0] == "anchors") return check_anchors(args[1], update);
    if (args.size() == 2 && args[0] == "changes") return check_changes(args[1], update);
    if (args.size() == 3 && args[0] == "matrix") return check_matrix(args[1], args[2], update);
    if (update) return usage();
    if (args.size() == 2 && args[0] == "links") return check_links(args[1]);
    if (args.size() == 2 && args[0] == "citations") return docs::check_citations(args[1]);
    if (args.size() == 2 && args[0] == "failures") return docs::check_failures(args[1]);
    if ((args.size() == 3 || args.size() == 4) && args[0] == "transcripts") {
        double timeout = args.size() == 4 ? std::atof(args[3].c_str()) : 20.0;
        if (timeout <= 0) return usage();
        return docs::check_transcripts(args[1], args[2], timeout);
    }
    return usage();
}
