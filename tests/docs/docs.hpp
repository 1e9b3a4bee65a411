// What the docs-check modes share: reading the project's markdown, and reporting problems as
// "file:line: problem" lines on stderr.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace docs {

using Lines = std::vector<std::string>;

struct Problems {
    bool quiet = false;  // while updating: only what remains afterwards is worth printing
    int count = 0;
    void report(const std::string& where, const std::string& what);
};

std::optional<std::string> read_file(const std::string& path);
bool write_file(const std::string& path, const std::string& text);
bool exists(const std::string& path);
bool is_dir(const std::string& path);
std::vector<std::string> list_dir(const std::string& dir);  // sorted, without hidden entries

// Splits on '\n'; a final newline gives no empty last line, so join(split(t)) == t.
Lines split_lines(std::string_view text);
std::string join_lines(const Lines& lines);
std::string_view trim(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);

// Every markdown file of the project, relative to root, leaving out hidden and build folders.
std::vector<std::string> markdown_files(const std::string& root);
// The value of "<!-- key: value -->" when the line is one ("" for "<!-- key -->").
std::optional<std::string> comment_directive(std::string_view line, std::string_view key);
bool is_fence(std::string_view line);

// Runs argv with stdout captured; the exit status, or -1 if it could not run.
int run_capture(const std::vector<std::string>& argv, const std::string& cwd, std::string* out);

// The checks in docs_text.cpp and docs_transcripts.cpp; each returns the exit status.
int check_citations(const std::string& root);
int check_failures(const std::string& root);
int check_transcripts(const std::string& root, const std::string& bin_dir, double timeout_seconds);

}  // namespace docs
