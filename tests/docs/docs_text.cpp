// Two checks on what the prose says about the code, which no excerpt can keep fresh:
//
//   docs-check citations ROOT   every "file.cpp:LINE" in the markdown names a line that exists,
//                               and a quoted "file.cpp:LINE: check failed: EXPR" (the suite's
//                               own output) names the line that holds EXPR
//   docs-check failures ROOT    every table after "<!-- failures: stages/NN-x/expected-failures.txt -->"
//                               names each case of that file exactly once; TUTORIAL.md has such
//                               a table for every stage that lists a case, and no copy of a list
//
// A failures table has one row per reason; its last column holds the cases, each as a
// `code span` that starts a case's name ("concurrency: a silent client"), or a whole tier
// ("multiaddr:"). A span may match several cases; each case must be matched exactly once.
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "docs.hpp"

namespace docs {
namespace {

// The project's files by base name, to find "cases_basic.cpp" from a transcript.
std::multimap<std::string, std::string> files_by_name(const std::string& root, const std::string& dir = "") {
    std::multimap<std::string, std::string> found;
    for (const auto& name : list_dir(root + "/" + dir)) {
        std::string path = dir + name;
        if (is_dir(root + "/" + path)) {
            if (name == "build" || starts_with(name, "build-")) continue;
            found.merge(files_by_name(root, path + "/"));
        } else {
            found.emplace(name, path);
        }
    }
    return found;
}

// Whitespace runs become one space, so an expression wrapped over lines still matches.
std::string collapse(std::string_view text) {
    std::string out;
    for (char c : text) {
        bool space = std::isspace(static_cast<unsigned char>(c));
        if (space && (out.empty() || out.back() == ' ')) continue;
        out += space ? ' ' : c;
    }
    while (!out.empty() && out.back() == ' ')
        out.pop_back();
    return out;
}

bool is_name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' || c == '/';
}

struct Citation {
    std::string file;
    size_t line = 0;
    std::string rest;  // the text after "file:LINE:"
};

// "cases_basic.cpp:144" and "tests/docs/selftest.cmake:12" in one line of markdown.
std::vector<Citation> citations_in(const std::string& line) {
    static const char* const kExtensions[] = {".cpp", ".hpp", ".h", ".cmake", ".sh", ".txt", ".py", ".dot"};
    std::vector<Citation> found;
    for (size_t colon = line.find(':'); colon != std::string::npos; colon = line.find(':', colon + 1)) {
        size_t start = colon;
        while (start > 0 && is_name_char(line[start - 1]))
            --start;
        std::string file = line.substr(start, colon - start);
        bool source = std::any_of(std::begin(kExtensions), std::end(kExtensions), [&](const char* ext) {
            std::string_view e(ext);
            return file.size() > e.size() && file.compare(file.size() - e.size(), e.size(), e) == 0;
        });
        size_t digits = colon + 1;
        while (digits < line.size() && std::isdigit(static_cast<unsigned char>(line[digits])))
            ++digits;
        if (!source || digits == colon + 1) continue;
        Citation c{file, std::stoul(line.substr(colon + 1, digits - colon - 1)), ""};
        if (digits < line.size() && line[digits] == ':') c.rest = std::string(trim(line.substr(digits + 1)));
        found.push_back(c);
    }
    return found;
}

// The expression of "check failed: EXPR  (values: ...)" or "check failed: EXPR: threw ...".
std::optional<std::string> failed_expression(const std::string& rest) {
    const std::string head = "check failed: ";
    if (!starts_with(rest, head)) return std::nullopt;
    std::string expr = rest.substr(head.size());
    for (const char* tail : {"  (values: ", ": threw "})
        if (auto at = expr.find(tail); at != std::string::npos) expr = expr.substr(0, at);
    return std::string(trim(expr));
}

// The cases an expected-failures.txt lists, each with the line that lists it.
std::vector<std::pair<std::string, size_t>> listed_cases(const std::string& list) {
    std::vector<std::pair<std::string, size_t>> cases;
    Lines lines = split_lines(list);
    for (size_t k = 0; k < lines.size(); ++k) {
        auto line = trim(lines[k]);
        if (line.empty() || line[0] == '#') continue;
        cases.emplace_back(std::string(trim(line.substr(0, line.find(" -- ")))), k + 1);
    }
    return cases;
}

}  // namespace

int check_citations(const std::string& root) {
    Problems problems;
    auto by_name = files_by_name(root);
    std::map<std::string, std::optional<Lines>> cache;
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        Lines lines = split_lines(*text);
        for (size_t i = 0; i < lines.size(); ++i) {
            std::string where = md + ":" + std::to_string(i + 1);
            for (const auto& c : citations_in(lines[i])) {
                std::string path = c.file;
                if (path.find('/') == std::string::npos) {
                    auto [from, to] = by_name.equal_range(path);
                    auto n = std::distance(from, to);
                    if (n != 1) {
                        problems.report(where, c.file + ":" + std::to_string(c.line) + ": " +
                                                   (n == 0 ? "no file of that name in the project"
                                                           : "several files have that name; give its path"));
                        continue;
                    }
                    path = from->second;
                }
                auto [it, fresh] = cache.try_emplace(path);
                if (fresh) {
                    auto source = read_file(root + "/" + path);
                    if (source) it->second = split_lines(*source);
                }
                if (!it->second) {
                    problems.report(where, c.file + ": no such file");
                    continue;
                }
                const Lines& src = *it->second;
                std::string cited = c.file + ":" + std::to_string(c.line);
                if (c.line == 0 || c.line > src.size()) {
                    problems.report(where,
                                    cited + ": " + path + " has " + std::to_string(src.size()) + " lines");
                    continue;
                }
                auto expr = failed_expression(c.rest);
                if (!expr) continue;
                // The suite reports the line a check's macro starts on; its expression may wrap.
                std::string first = collapse(src[c.line - 1]);
                std::string joined = first;
                for (size_t k = c.line; k < std::min(src.size(), c.line + 5); ++k)
                    joined += " " + collapse(src[k]);
                auto at = joined.find(collapse(*expr));
                if (at == std::string::npos || at >= first.size()) {
                    std::string holder;
                    for (size_t k = 0; k < src.size() && holder.empty(); ++k)
                        if (collapse(src[k]).find(collapse(*expr)) != std::string::npos)
                            holder = " (it is on line " + std::to_string(k + 1) + ")";
                    problems.report(where, cited + " does not hold '" + *expr + "'" + holder);
                }
            }
        }
    }
    return problems.count == 0 ? 0 : 1;
}

int check_failures(const std::string& root) {
    Problems problems;
    int tables = 0;
    std::set<std::string> tabled;  // the lists TUTORIAL.md has a table for
    for (const auto& md : markdown_files(root)) {
        auto text = read_file(root + "/" + md);
        if (!text) continue;
        Lines lines = split_lines(*text);
        for (size_t i = 0; i < lines.size(); ++i) {
            auto list_path = comment_directive(lines[i], "failures");
            if (!list_path) continue;
            ++tables;
            std::string where = md + ":" + std::to_string(i + 1);
            auto list = read_file(root + "/" + *list_path);
            if (!list) {
                problems.report(where, "cannot read " + *list_path);
                continue;
            }
            if (md == "TUTORIAL.md") tabled.insert(*list_path);
            auto cases = listed_cases(*list);  // what the stage is designed to fail
            std::vector<int> matched(cases.size(), 0);
            size_t row = i + 1;
            if (row >= lines.size() || !starts_with(trim(lines[row]), "|")) {
                problems.report(where, "not followed by a table");
                continue;
            }
            for (; row < lines.size() && starts_with(trim(lines[row]), "|"); ++row) {
                if (row < i + 3) continue;  // the header and its separator
                std::string cell(trim(lines[row]));
                cell = cell.substr(0, cell.find_last_not_of('|') + 1);
                cell = cell.substr(cell.rfind('|') + 1);
                std::string row_where = md + ":" + std::to_string(row + 1);
                int spans = 0;
                for (size_t open = cell.find('`'); open != std::string::npos;
                     open = cell.find('`', open + 1)) {
                    size_t close = cell.find('`', open + 1);
                    if (close == std::string::npos) break;
                    std::string entry(trim(cell.substr(open + 1, close - open - 1)));
                    open = close;
                    ++spans;
                    for (std::string_view dots : {"…", "..."})
                        if (entry.size() > dots.size() &&
                            entry.compare(entry.size() - dots.size(), dots.size(), dots) == 0)
                            entry = std::string(trim(entry.substr(0, entry.size() - dots.size())));
                    int hits = 0;
                    for (size_t k = 0; k < cases.size(); ++k)
                        if (starts_with(cases[k].first, entry)) ++matched[k], ++hits;
                    if (hits == 0)
                        problems.report(row_where, "`" + entry + "` starts no case of " + *list_path);
                }
                if (spans == 0)
                    problems.report(row_where, "a row names no case (as `tier: start of its name`)");
            }
            for (size_t k = 0; k < cases.size(); ++k) {
                std::string at = *list_path + ":" + std::to_string(cases[k].second);
                if (matched[k] == 0)
                    problems.report(at, "'" + cases[k].first + "' is in no row of the table at " + where);
                else if (matched[k] > 1)
                    problems.report(at, "'" + cases[k].first + "' is in " + std::to_string(matched[k]) +
                                            " rows of the table at " + where + "; give it one reason");
            }
        }
    }
    // A reader learns a stage's failures from its chapter: a table of reasons, never a copy
    // of the list, and no stage designed to fail something without one.
    if (auto tutorial = read_file(root + "/TUTORIAL.md")) {
        Lines lines = split_lines(*tutorial);
        for (size_t i = 0; i < lines.size(); ++i) {
            auto path = comment_directive(lines[i], "include");
            const std::string suffix = "/expected-failures.txt";
            if (path && path->size() > suffix.size() &&
                path->compare(path->size() - suffix.size(), suffix.size(), suffix) == 0)
                problems.report("TUTORIAL.md:" + std::to_string(i + 1),
                                "a copy of " + *path + ": explain it in a <!-- failures: " + *path +
                                    " --> table instead");
        }
        for (const auto& name : list_dir(root + "/stages")) {
            std::string list_path = "stages/" + name + "/expected-failures.txt";
            auto list = read_file(root + "/" + list_path);
            if (!list || listed_cases(*list).empty() || tabled.count(list_path)) continue;
            problems.report(list_path,
                            "lists cases no table in TUTORIAL.md explains: add one after <!-- failures: " +
                                list_path + " -->");
        }
    }
    if (tables == 0) std::printf("no <!-- failures: ... --> table to check\n");
    return problems.count == 0 ? 0 : 1;
}

}  // namespace docs
