// timeline: renders a timeline (a sequence diagram) from a small text format to SVG.
//
//   timeline INPUT.timeline > OUTPUT.svg
//
// Graphviz lays out graphs well but has no notion of time flowing down a page, and the
// diagrams that explain a server are mostly "who waits for whom, when". The format:
//
//   title  Stage 01: the second client waits        heading
//   caption One line under the diagram               (optional, may repeat)
//   lane a client A                                  a column; lanes appear in this order
//   a -> s: connect()                                arrow from lane a to lane s
//   a --> s: bytes sit in the socket buffer          dashed arrow: the kernel acting
//   note s: accept() returns fd 4                    a box on lane s
//   mark s: epoll_wait -> 1 event                    a highlighted box, for what to compare
//   block s: read(fd 4)                              s is blocked in a system call ...
//   wait b: nobody reads B                           ... or waits for service ...
//   busy s: epoll_wait returns at once               ... or burns CPU ...
//   end s                                            ... until here
//   section level-triggered                          a rule across every lane
//   gap                                              an empty row
//   & note b: ...                                    '&' puts a statement on the previous row
//
// Text in `backticks` is set in a monospace font. '#' starts a comment line.
// The output depends only on the input, so a rendered file can be checked for staleness
// by hashing its source (see diagrams.cmake).

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr double kMargin = 24, kRow = 34, kHeader = 40, kSpanWidth = 10, kMinColumn = 150;
constexpr double kSansChar = 7.0, kMonoChar = 7.3;  // average advance at 13px / 12px

struct Lane {
    std::string id, label;
    double x = 0, column = kMinColumn;  // room centred on the lifeline
    double right = 0;                   // room a span's label needs right of the lifeline
    double half() const { return std::max(column / 2, right); }
};

enum class Kind { note, arrow, dashed, span_begin, span_end, section, gap };

struct Item {
    Kind kind = Kind::note;
    int row = 0;
    size_t from = 0, to = 0;  // lanes; `from` alone for notes and spans
    std::string text, style;  // style: block, wait or busy for spans
};

struct Span {
    size_t lane;
    int first_row, last_row;
    std::string style, text;
};

[[noreturn]] void fail(int line, const std::string& why) {
    std::fprintf(stderr, "timeline: line %d: %s\n", line, why.c_str());
    std::exit(1);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// Width estimate for text with `monospace` runs; good enough to keep labels apart.
double text_width(std::string_view s) {
    double w = 0;
    bool mono = false;
    for (char c : s) {
        if (c == '`') {
            mono = !mono;
            continue;
        }
        w += mono ? kMonoChar : kSansChar;
    }
    return w;
}

// <text> with <tspan>s for the `monospace` runs.
std::string svg_text(double x, double y, std::string_view s, const char* anchor, const char* extra = "") {
    std::ostringstream out;
    out << "<text x=\"" << x << "\" y=\"" << y << "\" text-anchor=\"" << anchor << "\"" << extra << ">";
    bool mono = false;
    std::string run;
    auto flush = [&] {
        if (run.empty()) return;
        if (mono)
            out << "<tspan class=\"mono\">" << escape(run) << "</tspan>";
        else
            out << escape(run);
        run.clear();
    };
    for (char c : s) {
        if (c == '`') {
            flush();
            mono = !mono;
        } else {
            run += c;
        }
    }
    flush();
    out << "</text>\n";
    return out.str();
}

struct Diagram {
    std::string title;
    std::vector<std::string> captions;
    std::vector<Lane> lanes;
    std::vector<Item> items;
    int rows = 0;

    size_t lane(std::string_view id, int line) const {
        for (size_t i = 0; i < lanes.size(); ++i)
            if (lanes[i].id == id) return i;
        fail(line, "unknown lane '" + std::string(id) + "'");
    }
};

Diagram parse(std::istream& in) {
    Diagram d;
    std::string raw;
    int line_no = 0;
    while (std::getline(in, raw)) {
        ++line_no;
        std::string_view line = trim(raw);
        if (line.empty() || line[0] == '#') continue;
        bool same_row = line[0] == '&';
        if (same_row) line = trim(line.substr(1));
        auto space = line.find(' ');
        std::string_view word = line.substr(0, space);
        std::string_view rest = space == std::string_view::npos ? "" : trim(line.substr(space));
        if (word == "title") {
            d.title = rest;
            continue;
        }
        if (word == "caption") {
            d.captions.emplace_back(rest);
            continue;
        }
        if (word == "lane") {
            auto sp = rest.find(' ');
            if (sp == std::string_view::npos) fail(line_no, "lane needs an id and a label");
            d.lanes.push_back(Lane{std::string(rest.substr(0, sp)), std::string(trim(rest.substr(sp)))});
            continue;
        }
        Item item;
        if (word == "end") {  // closes a span on the row before; takes no row of its own
            item.kind = Kind::span_end;
            item.from = d.lane(rest, line_no);
            item.row = d.rows - 1;
            d.items.push_back(item);
            continue;
        }
        if (!same_row || d.rows == 0) ++d.rows;
        item.row = d.rows - 1;
        auto colon = rest.find(':');
        auto head = trim(rest.substr(0, colon));
        auto text = colon == std::string_view::npos ? std::string_view{} : trim(rest.substr(colon + 1));
        if (word == "note" || word == "mark" || word == "block" || word == "wait" || word == "busy") {
            if (colon == std::string_view::npos) fail(line_no, std::string(word) + " needs 'lane: text'");
            item.kind = word == "note" || word == "mark" ? Kind::note : Kind::span_begin;
            item.style = word;
            item.from = d.lane(head, line_no);
            item.text = text;
        } else if (word == "section") {
            item.kind = Kind::section;
            item.text = rest;
        } else if (word == "gap") {
            item.kind = Kind::gap;
        } else {
            // "a -> b: text" or "a --> b: text"
            auto full = trim(line);
            auto c = full.find(':');
            auto arrow_part = trim(full.substr(0, c));
            auto dashed = arrow_part.find("-->");
            auto solid = arrow_part.find("->");
            if (solid == std::string_view::npos) fail(line_no, "cannot read '" + std::string(full) + "'");
            size_t at = dashed != std::string_view::npos ? dashed : solid;
            size_t len = dashed != std::string_view::npos ? 3 : 2;
            item.kind = dashed != std::string_view::npos ? Kind::dashed : Kind::arrow;
            item.from = d.lane(trim(arrow_part.substr(0, at)), line_no);
            item.to = d.lane(trim(arrow_part.substr(at + len)), line_no);
            if (item.from == item.to) fail(line_no, "an arrow needs two different lanes");
            item.text = c == std::string_view::npos ? "" : std::string(trim(full.substr(c + 1)));
        }
        d.items.push_back(item);
    }
    if (d.lanes.empty()) fail(line_no, "no lanes");
    return d;
}

void layout(Diagram* d) {
    for (const auto& item : d->items) {
        Lane& lane = d->lanes[item.from];
        if (item.kind == Kind::note) lane.column = std::max(lane.column, text_width(item.text) + 20);
        if (item.kind == Kind::span_begin)
            lane.right = std::max(lane.right, text_width(item.text) + kSpanWidth + 14);
    }
    for (auto& lane : d->lanes)
        lane.column = std::max(lane.column, text_width(lane.label) + 28);
    double x = kMargin + d->lanes[0].column / 2;
    for (size_t i = 0; i < d->lanes.size(); ++i) {
        if (i > 0) x += d->lanes[i - 1].half() + 24 + d->lanes[i].column / 2;
        d->lanes[i].x = x;
    }
    // Arrows need room for their label between the two lanes: push later lanes right.
    for (bool moved = true; moved;) {
        moved = false;
        for (const auto& item : d->items) {
            if (item.kind != Kind::arrow && item.kind != Kind::dashed) continue;
            size_t lo = std::min(item.from, item.to), hi = std::max(item.from, item.to);
            double need = text_width(item.text) + 40 - (d->lanes[hi].x - d->lanes[lo].x);
            if (need <= 0.5) continue;
            for (size_t i = hi; i < d->lanes.size(); ++i)
                d->lanes[i].x += need;
            moved = true;
        }
    }
}

std::vector<Span> spans(const Diagram& d) {
    std::vector<Span> out;
    std::map<size_t, size_t> open;  // lane -> index in out
    for (const auto& item : d.items) {
        if (item.kind == Kind::span_begin) {
            if (open.count(item.from)) out[open[item.from]].last_row = item.row - 1;
            open[item.from] = out.size();
            out.push_back(Span{item.from, item.row, d.rows - 1, item.style, item.text});
        } else if (item.kind == Kind::span_end) {
            auto it = open.find(item.from);
            if (it == open.end()) continue;
            out[it->second].last_row = item.row;
            open.erase(it);
        }
    }
    return out;
}

const char* span_color(const std::string& style) {
    if (style == "block") return "#e7a3a3";
    if (style == "wait") return "#f2cf7c";
    return "#9fc7e8";  // busy
}

const char* span_legend(const std::string& style) {
    if (style == "block") return "blocked in a system call";
    if (style == "wait") return "waiting: nobody is serving it";
    return "running (using CPU)";
}

void render(const Diagram& d, std::ostream& out) {
    double width = d.lanes.back().x + d.lanes.back().half() + kMargin;
    double title_h = d.title.empty() ? 0 : 30;
    double top = kMargin + title_h + kHeader + 10;
    double body_bottom = top + d.rows * kRow + 10;
    auto all_spans = spans(d);
    std::vector<std::string> styles;
    for (const auto& s : all_spans)
        if (std::find(styles.begin(), styles.end(), s.style) == styles.end()) styles.push_back(s.style);
    double legend_h = styles.empty() ? 0 : 26;
    double height = body_bottom + kHeader + legend_h + d.captions.size() * 18 + kMargin;
    width = std::max(width, text_width(d.title) * 1.2 + 2 * kMargin);
    for (const auto& c : d.captions)
        width = std::max(width, text_width(c) + 2 * kMargin);

    auto row_y = [&](int row) { return top + row * kRow + kRow / 2; };
    out << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
        << "\" viewBox=\"0 0 " << width << " " << height << "\">\n"
        << "<style>\n"
        << "  text { font-family: Helvetica, Arial, sans-serif; font-size: 13px; fill: #222; }\n"
        << "  .mono { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 12px; }\n"
        << "  .title { font-size: 16px; font-weight: bold; }\n"
        << "  .caption { font-size: 12px; fill: #555; }\n"
        << "  .lifeline { stroke: #999; stroke-dasharray: 4 4; }\n"
        << "  .arrow { stroke: #222; stroke-width: 1.4; fill: none; }\n"
        << "  .dashed { stroke: #666; stroke-width: 1.2; stroke-dasharray: 5 3; fill: none; }\n"
        << "</style>\n"
        << "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
           "markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#222\"/>"
           "</marker></defs>\n"
        << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    if (!d.title.empty()) out << svg_text(kMargin, kMargin + 16, d.title, "start", " class=\"title\"");

    auto header = [&](const Lane& lane, double y) {
        double w = std::min(lane.column, text_width(lane.label) + 28);
        out << "<rect x=\"" << lane.x - w / 2 << "\" y=\"" << y << "\" width=\"" << w << "\" height=\""
            << kHeader - 10 << "\" rx=\"4\" fill=\"#eef2f7\" stroke=\"#556\"/>\n"
            << svg_text(lane.x, y + 20, lane.label, "middle", " font-weight=\"bold\"");
    };
    for (const auto& lane : d.lanes) {
        header(lane, kMargin + title_h);
        out << "<line class=\"lifeline\" x1=\"" << lane.x << "\" y1=\"" << kMargin + title_h + kHeader - 10
            << "\" x2=\"" << lane.x << "\" y2=\"" << body_bottom << "\"/>\n";
        header(lane, body_bottom);
    }
    for (const auto& s : all_spans) {
        double y1 = row_y(s.first_row) - kRow / 2 + 4, y2 = row_y(s.last_row) + kRow / 2 - 4;
        out << "<rect x=\"" << d.lanes[s.lane].x - kSpanWidth / 2 << "\" y=\"" << y1 << "\" width=\""
            << kSpanWidth << "\" height=\"" << y2 - y1 << "\" fill=\"" << span_color(s.style)
            << "\" stroke=\"#555\"/>\n";
    }
    for (const auto& item : d.items) {
        double y = row_y(item.row);
        switch (item.kind) {
            case Kind::note: {
                const Lane& lane = d.lanes[item.from];
                double w = text_width(item.text) + 16;
                bool mark = item.style == "mark";
                out << "<rect x=\"" << lane.x - w / 2 << "\" y=\"" << y - 11 << "\" width=\"" << w
                    << "\" height=\"22\" rx=\"3\" fill=\"" << (mark ? "#dcebfa" : "#fffbe6") << "\" stroke=\""
                    << (mark ? "#5b8cc0" : "#b8a96a") << "\"/>\n"
                    << svg_text(lane.x, y + 4.5, item.text, "middle");
                break;
            }
            case Kind::span_begin: {
                const Lane& lane = d.lanes[item.from];
                out << svg_text(lane.x + kSpanWidth / 2 + 6, y + 4.5, item.text, "start",
                                " font-style=\"italic\"");
                break;
            }
            case Kind::arrow:
            case Kind::dashed: {
                double x1 = d.lanes[item.from].x, x2 = d.lanes[item.to].x;
                double dir = x2 > x1 ? 1 : -1;
                x1 += dir * kSpanWidth / 2;
                x2 -= dir * kSpanWidth / 2;
                out << "<line class=\"" << (item.kind == Kind::arrow ? "arrow" : "dashed") << "\" x1=\"" << x1
                    << "\" y1=\"" << y + 6 << "\" x2=\"" << x2 << "\" y2=\"" << y + 6
                    << "\" marker-end=\"url(#head)\"/>\n"
                    << svg_text((x1 + x2) / 2, y, item.text, "middle");
                break;
            }
            case Kind::section:
                out << "<line x1=\"" << kMargin / 2 << "\" y1=\"" << y << "\" x2=\"" << width - kMargin / 2
                    << "\" y2=\"" << y << "\" stroke=\"#889\" stroke-width=\"1\"/>\n";
                if (!item.text.empty()) {
                    double w = text_width(item.text) + 16;
                    out << "<rect x=\"" << kMargin << "\" y=\"" << y - 10 << "\" width=\"" << w
                        << "\" height=\"20\" fill=\"white\"/>\n"
                        << svg_text(kMargin + 8, y + 4.5, item.text, "start", " font-weight=\"bold\"");
                }
                break;
            case Kind::span_end:
            case Kind::gap:
                break;
        }
    }
    double y = body_bottom + kHeader + 8;
    if (!styles.empty()) {
        double x = kMargin;
        for (const auto& style : styles) {
            out << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << kSpanWidth
                << "\" height=\"16\" fill=\"" << span_color(style) << "\" stroke=\"#555\"/>\n"
                << svg_text(x + kSpanWidth + 6, y + 12.5, span_legend(style), "start", " class=\"caption\"");
            x += kSpanWidth + 6 + text_width(span_legend(style)) + 24;
        }
        y += legend_h;
    }
    for (const auto& c : d.captions) {
        out << svg_text(kMargin, y + 12, c, "start", " class=\"caption\"");
        y += 18;
    }
    out << "</svg>\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: timeline INPUT.timeline > OUTPUT.svg\n");
        return 2;
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::fprintf(stderr, "timeline: cannot read %s\n", argv[1]);
        return 1;
    }
    Diagram d = parse(in);
    layout(&d);
    render(d, std::cout);
    return 0;
}
