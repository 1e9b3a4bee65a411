// echo-conformance: the black-box echo suite as a program.
//
// The cases live in cases_<tier>.cpp, one file and one doctest TEST_SUITE per tier; a case's
// full name is "tier: sentence" (the suite name, a colon, the test case name). This file parses our own
// command line, runs doctest with the reporter below, and applies a stage's expected
// failures strictly: an expected failure that passes fails the run, and a failure only
// counts as expected when it is not a crash or (unless the line says so) a watchdog timeout.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/harness.hpp"

namespace {

constexpr const char* kUsage = R"(usage: echo-conformance --server PATH [options] [-- SERVER-ARGS...]
       echo-conformance --address URL [options]
       echo-conformance --list-cases
       echo-conformance --matrix NN=FILE [NN=FILE...]

Runs the echo conformance suite against a server that follows the contract: it takes
--listen URL, prints "listening on URL" on stdout once ready, echoes every byte, and
exits 0 on SIGTERM.

  --server PATH              start PATH (with SERVER-ARGS and --listen tcp://127.0.0.1:0)
                             for every case
  --address URL              test a server that is already running at URL; the cases
                             that must start, signal or limit the server are skipped
  --case "TIER: NAME"        run this case only
  --fds-per-client N         descriptors the server holds per connected client (default
                             1; a relay holds 2), for the cases that bound them
  --expected-failures FILE   the cases this server is designed to fail, one per line:
                               TIER: NAME -- REASON
                             '#' starts a comment. A listed case that passes fails the
                             run, and so does a line naming no case. A crash never
                             counts as an expected failure; a watchdog timeout does only
                             when REASON starts with "watchdog:".
  --list-cases               print every case, one per line; "[slow]" marks one that
                             takes over 10 s, "[serial]" one with a latency or CPU
                             bound, which must not share the machine with another
  --matrix NN=FILE...        print a markdown table of cases x stages from each stage's
                             expected-failures file
  --help                     print this help

Time bounds are multiplied by the environment variable EVLOOP_TEST_TIME_SCALE (default 1).
Exit status: 0 when every case passed or failed as expected, 1 otherwise, 2 on usage errors.
)";

struct CaseInfo {
    std::string name;  // "tier: sentence"
    bool slow = false;
    bool serial = false;
};

struct Expected {
    std::string reason;
    int line = 0;
};

enum class Verdict { pass, fail, expected_failure, unexpected_pass, skipped };

struct Outcome {
    std::string name;
    Verdict verdict = Verdict::pass;
    double seconds = 0;
};

std::vector<CaseInfo> g_cases;               // filled by a --list-test-cases query
std::map<std::string, Expected> g_expected;  // by case name
std::vector<Outcome> g_outcomes;

std::string full_name(const doctest::TestCaseData& tc) {
    return std::string(tc.m_test_suite) + ": " + tc.m_name;
}

// A case's markers are words in its doctest description: "slow", "serial" (harness/harness.hpp).
bool has_marker(const doctest::TestCaseData& tc, std::string_view marker) {
    std::istringstream words(tc.m_description ? tc.m_description : "");
    std::string word;
    while (words >> word)
        if (word == marker) return true;
    return false;
}

// Prints each case as it runs, each failed check with its context, and the verdict
// against the expected failures.
class Reporter : public doctest::IReporter {
public:
    explicit Reporter(const doctest::ContextOptions& options) : out_(*options.cout) {}

    void report_query(const doctest::QueryData& query) override {
        for (unsigned i = 0; i < query.num_data; ++i)
            g_cases.push_back({full_name(*query.data[i]), has_marker(*query.data[i], "slow"),
                               has_marker(*query.data[i], "serial")});
    }

    void test_run_start() override {}
    void test_run_end(const doctest::TestRunStats&) override {}

    void test_case_start(const doctest::TestCaseData& tc) override {
        harness::reset_record();
        name_ = full_name(tc);
        out_ << "--- " << name_ << std::endl;
    }
    void test_case_reenter(const doctest::TestCaseData&) override {}

    void test_case_end(const doctest::CurrentTestCaseStats& stats) override {
        const harness::CaseRecord& record = harness::current_record();
        bool failed = !stats.testCaseSuccess || stats.failure_flags != 0;
        auto expected = g_expected.find(name_);
        Outcome o{name_, Verdict::pass, stats.seconds};
        char secs[32];
        std::snprintf(secs, sizeof secs, " (%.2f s)", stats.seconds);
        if (record.skipped) {
            o.verdict = Verdict::skipped;
            out_ << "SKIPPED: " << name_ << ": " << record.skip_reason << "\n";
        } else if (!failed && expected == g_expected.end()) {
            out_ << "PASS: " << name_ << secs << "\n";
        } else if (!failed) {
            o.verdict = Verdict::unexpected_pass;
            out_ << "UNEXPECTED PASS: " << name_ << secs << ": it is listed as an expected failure (line "
                 << expected->second.line << "); remove it from expected-failures.txt\n";
        } else if (expected != g_expected.end() && record.crashed) {
            o.verdict = Verdict::fail;
            out_ << "FAIL: " << name_ << secs << ": the server crashed (" << record.crash
                 << "), which is never an expected failure (expected: " << expected->second.reason << ")\n";
        } else if (expected != g_expected.end() && record.watchdog &&
                   expected->second.reason.rfind("watchdog:", 0) != 0) {
            o.verdict = Verdict::fail;
            out_ << "FAIL: " << name_ << secs
                 << ": the watchdog stopped it, but its expected-failures line does not say \"watchdog:\" "
                    "(expected: "
                 << expected->second.reason << ")\n";
        } else if (expected != g_expected.end()) {
            o.verdict = Verdict::expected_failure;
            out_ << "expected failure: " << name_ << secs << ": " << expected->second.reason << "\n";
        } else {
            o.verdict = Verdict::fail;
            out_ << "FAIL: " << name_ << secs << "\n";
        }
        if ((o.verdict == Verdict::fail) && !record.server_stderr_tail.empty())
            out_ << "--- the server's stderr (tail) ---\n"
                 << record.server_stderr_tail << (record.server_stderr_tail.back() == '\n' ? "" : "\n")
                 << "---\n";
        out_ << std::flush;
        g_outcomes.push_back(o);
    }

    void test_case_exception(const doctest::TestCaseException& e) override {
        out_ << "  " << (e.is_crash ? "crashed: " : "error: ") << e.error_string.c_str() << "\n";
        // INFO and CAPTURE values in scope when it was thrown (e.g. which round).
        const doctest::String* scopes = get_stringified_contexts();
        for (int i = get_num_stringified_contexts() - 1; i >= 0; --i)
            out_ << "    " << scopes[i].c_str() << "\n";
    }

    void subcase_start(const doctest::SubcaseSignature&) override {}
    void subcase_end() override {}

    void log_assert(const doctest::AssertData& a) override {
        if (!a.m_failed) return;
        out_ << "  " << where(a.m_file, a.m_line) << "check failed: " << a.m_expr;
        if (a.m_threw)
            out_ << ": threw " << a.m_exception.c_str();
        else if (a.m_decomp.size() && std::string(a.m_decomp.c_str()) != a.m_expr)
            out_ << "  (values: " << a.m_decomp.c_str() << ")";
        out_ << "\n";
        contexts();
    }

    void log_message(const doctest::MessageData& m) override {
        bool warn = m.m_severity & doctest::assertType::is_warn;
        out_ << "  " << where(m.m_file, m.m_line) << (warn ? "" : "failed: ") << m.m_string.c_str() << "\n";
        if (!warn) contexts();
    }

    void test_case_skipped(const doctest::TestCaseData&) override {}

private:
    static std::string where(const char* file, int line) {
        std::string f = file ? file : "";
        auto slash = f.find_last_of('/');
        if (slash != std::string::npos) f = f.substr(slash + 1);
        return f + ":" + std::to_string(line) + ": ";
    }

    // The INFO/CHECK_MESSAGE text in scope: what the case was doing and why it failed.
    void contexts() {
        int n = get_num_active_contexts();
        auto scopes = get_active_contexts();
        for (int i = 0; i < n; ++i) {
            std::ostringstream text;
            scopes[i]->stringify(&text);
            out_ << "    " << text.str() << "\n";
        }
    }

    std::ostream& out_;
    std::string name_;
};

REGISTER_REPORTER("evloop", 1, Reporter);

// doctest's exceptions become readable messages in the report.
REGISTER_EXCEPTION_TRANSLATOR(const harness::Failure& e) {
    return doctest::String(e.what());
}

// The tiers in the order a reader meets them; any other tier comes after these, by name.
constexpr std::string_view kTiers[] = {"basic", "concurrency", "scale", "robustness", "multiaddr"};

// Fills g_cases tier by tier (--list-cases and --matrix print them in this order), each tier
// in the order of its file.
void list_registered() {
    // A query option must come through the command line to be honoured.
    const char* args[] = {"echo-conformance", "--list-test-cases", "--reporters=evloop", "--no-version"};
    doctest::Context context(4, args);
    context.run();
    auto order = [](const CaseInfo& c) {
        std::string tier = c.name.substr(0, c.name.find(':'));
        auto rank = static_cast<std::size_t>(std::find(std::begin(kTiers), std::end(kTiers), tier) -
                                             std::begin(kTiers));
        return std::pair(rank, rank == std::size(kTiers) ? tier : std::string());
    };
    std::stable_sort(g_cases.begin(), g_cases.end(),
                     [&](const CaseInfo& a, const CaseInfo& b) { return order(a) < order(b); });
}

bool case_exists(const std::string& name) {
    for (const auto& c : g_cases)
        if (c.name == name) return true;
    return false;
}

std::string trim(std::string s) {
    auto b = s.find_first_not_of(" \t\r");
    auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Reads FILE into `out`. Problems (unreadable file, bad line, unknown case) go to stderr.
bool load_expected(const std::string& path, std::map<std::string, Expected>* out) {
    std::ifstream in(path);
    if (!in) {
        std::fprintf(stderr, "echo-conformance: cannot read %s\n", path.c_str());
        return false;
    }
    bool ok = true;
    std::string line;
    for (int number = 1; std::getline(in, line); ++number) {
        std::string text = trim(line);
        if (text.empty() || text[0] == '#') continue;
        auto sep = text.find(" -- ");
        std::string name = trim(text.substr(0, sep));
        std::string reason = sep == std::string::npos ? "" : trim(text.substr(sep + 4));
        auto report = [&](const std::string& what) {
            std::fprintf(stderr, "%s:%d: %s\n", path.c_str(), number, what.c_str());
            ok = false;
        };
        if (sep == std::string::npos || reason.empty())
            report("expected 'TIER: CASE -- REASON', got '" + text + "'");
        else if (!case_exists(name))
            report("no case named '" + name + "' (echo-conformance --list-cases lists them)");
        else if (out->count(name))
            report("'" + name + "' is listed twice");
        else
            (*out)[name] = {reason, number};
    }
    return ok;
}

// The conformance matrix for README and TUTORIAL: one row per case, one column per stage,
// each expected failure pointing to a footnote with its reason.
int print_matrix(const std::vector<std::string>& specs) {
    struct Column {
        std::string stage;
        std::map<std::string, Expected> expected;
    };
    std::vector<Column> columns;
    for (const auto& spec : specs) {
        auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0) {
            std::fprintf(stderr, "echo-conformance: --matrix wants NN=FILE, got '%s'\n", spec.c_str());
            return 2;
        }
        Column c{spec.substr(0, eq), {}};
        if (!load_expected(spec.substr(eq + 1), &c.expected)) return 1;
        columns.push_back(std::move(c));
    }
    std::string header = "| case |", rule = "| --- |";
    for (const auto& c : columns) {
        header += " " + c.stage + " |";
        rule += " :-: |";
    }
    std::printf("%s\n%s\n", header.c_str(), rule.c_str());
    std::vector<std::string> notes;
    for (const auto& info : g_cases) {
        std::string row = "| " + info.name + (info.slow ? " (slow)" : "") + " |";
        for (const auto& c : columns) {
            auto e = c.expected.find(info.name);
            if (e == c.expected.end()) {
                row += " pass |";
                continue;
            }
            notes.push_back("stage " + c.stage + ": " + e->second.reason);
            row += " fails[^" + std::to_string(notes.size()) + "] |";
        }
        std::printf("%s\n", row.c_str());
    }
    if (!notes.empty()) std::printf("\n");
    for (std::size_t i = 0; i < notes.size(); ++i)
        std::printf("[^%zu]: %s\n", i + 1, notes[i].c_str());
    return 0;
}

int usage_error(const std::string& why) {
    std::fprintf(stderr, "echo-conformance: %s\n\n%s", why.c_str(), kUsage);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    harness::Target target;
    std::string only_case, expected_path;
    bool list = false, matrix = false;
    std::vector<std::string> matrix_specs;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&](const char* option) -> std::string {
            if (i + 1 >= argc) throw std::invalid_argument(std::string(option) + " needs a value");
            return argv[++i];
        };
        try {
            if (arg == "--help" || arg == "-h") {
                std::fputs(kUsage, stdout);
                return 0;
            } else if (arg == "--server") {
                target.server_path = value("--server");
            } else if (arg == "--address") {
                target.address_url = value("--address");
            } else if (arg == "--case") {
                only_case = value("--case");
            } else if (arg == "--fds-per-client") {
                std::string text = value("--fds-per-client");
                char* end = nullptr;
                long n = std::strtol(text.c_str(), &end, 10);
                if (text.empty() || *end != '\0' || n < 1 || n > 16)
                    return usage_error("--fds-per-client takes a number from 1 to 16, not '" + text + "'");
                target.fds_per_client = static_cast<int>(n);
            } else if (arg == "--expected-failures") {
                expected_path = value("--expected-failures");
            } else if (arg == "--list-cases") {
                list = true;
            } else if (arg == "--matrix") {
                matrix = true;
                while (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0)
                    matrix_specs.push_back(argv[++i]);
            } else if (arg == "--") {
                target.server_args.assign(argv + i + 1, argv + argc);
                break;
            } else {
                return usage_error("unknown argument '" + arg + "'");
            }
        } catch (const std::invalid_argument& e) {
            return usage_error(e.what());
        }
    }

    harness::init_process();
    list_registered();

    if (list) {
        for (const auto& c : g_cases)
            std::printf("%s%s%s\n", c.name.c_str(), c.slow ? " [slow]" : "", c.serial ? " [serial]" : "");
        return 0;
    }
    if (matrix) {
        if (matrix_specs.empty()) return usage_error("--matrix needs at least one NN=FILE");
        return print_matrix(matrix_specs);
    }
    if (target.server_path.empty() == target.address_url.empty())
        return usage_error("give exactly one of --server PATH and --address URL");
    if (target.address_mode()) {
        std::string error;
        if (!common::parse_address(target.address_url, &error))
            return usage_error("--address " + target.address_url + ": " + error);
    }
    if (!only_case.empty() && !case_exists(only_case)) {
        std::fprintf(stderr, "echo-conformance: no case named '%s' (--list-cases lists them)\n",
                     only_case.c_str());
        return 1;
    }
    // Checked on every run, so a stale line fails whichever case CTest runs.
    if (!expected_path.empty() && !load_expected(expected_path, &g_expected)) return 1;
    harness::set_target(target);

    doctest::Context context;
    context.setOption("reporters", "evloop");
    context.setOption("no-version", true);
    context.setOption("no-breaks", true);
    if (!only_case.empty()) {
        auto colon = only_case.find(": ");
        std::string tier = only_case.substr(0, colon), name = only_case.substr(colon + 2);
        context.addFilter("test-suite", tier.c_str());
        context.addFilter("test-case", name.c_str());
    }
    context.run();

    int passed = 0, failed = 0, expected = 0, skipped = 0;
    for (const auto& o : g_outcomes) {
        switch (o.verdict) {
            case Verdict::pass:
                ++passed;
                break;
            case Verdict::expected_failure:
                ++expected;
                break;
            case Verdict::skipped:
                ++skipped;
                break;
            case Verdict::fail:
            case Verdict::unexpected_pass:
                ++failed;
                break;
        }
    }
    if (g_outcomes.empty()) {
        std::fprintf(stderr, "echo-conformance: no case ran\n");
        return 1;
    }
    if (failed) {
        std::printf("\nFailed:\n");
        for (const auto& o : g_outcomes)
            if (o.verdict == Verdict::fail || o.verdict == Verdict::unexpected_pass)
                std::printf("  %s%s\n", o.name.c_str(),
                            o.verdict == Verdict::unexpected_pass ? " (unexpected pass)" : "");
    }
    std::printf("\n%d passed, %d failed, %d expected failures, %d skipped\n", passed, failed, expected,
                skipped);
    return failed ? 1 : 0;
}
