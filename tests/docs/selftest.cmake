# Proves that the documentation checks can fail: builds a small fake repository, breaks it
# in each way a check must notice, and expects docs-check to fail, then to pass once the
# --update mode has repaired what can be repaired.
#
#   cmake -DDOCS_CHECK=<docs-check> -DWORK=<scratch dir> -DROOT=<source dir> -P selftest.cmake
cmake_minimum_required(VERSION 3.25)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/stages/01-one" "${WORK}/stages/02-two" "${WORK}/diagrams")

# expect(<exit code> <description> [MESSAGE <regex>] <docs-check arguments>...)
function(expect code what)
  cmake_parse_arguments(PARSE_ARGV 2 arg "" "MESSAGE" "")
  execute_process(COMMAND "${DOCS_CHECK}" ${arg_UNPARSED_ARGUMENTS}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL code)
    message(FATAL_ERROR "${what}: expected exit ${code}, got ${rc}\n${out}${err}")
  endif()
  if(arg_MESSAGE AND NOT err MATCHES "${arg_MESSAGE}")
    message(FATAL_ERROR "${what}: expected a message matching '${arg_MESSAGE}', got:\n${err}")
  endif()
  message(STATUS "ok: ${what}")
endfunction()

file(WRITE "${WORK}/stages/01-one/server.cpp" [=[
int main() {
    // ANCHOR: body
    for (;;) {
        // ANCHOR: inner
        serve();
        // ANCHOR_END: inner
    }
    // ANCHOR_END: body
}
]=])
file(WRITE "${WORK}/stages/02-two/server.cpp" [=[
int main() {
    // ANCHOR: body
    while (running()) {
        serve();
    }
    // ANCHOR_END: body
}
]=])
file(WRITE "${WORK}/TUTORIAL.md" [=[
# Excerpts

<!-- include: stages/01-one/server.cpp#body -->
```cpp
for (;;) {
    serve();
}
```

<!-- include: stages/01-one/server.cpp#inner -->
```cpp
serve();
```
]=])

# Anchors: fresh, then stale, then repaired; a missing anchor cannot be repaired.
expect(0 "fresh excerpts pass" anchors "${WORK}")
file(READ "${WORK}/stages/01-one/server.cpp" text)
string(REPLACE "serve();" "serve_one();" text "${text}")
file(WRITE "${WORK}/stages/01-one/server.cpp" "${text}")
expect(1 "an excerpt that differs from its anchor fails" MESSAGE "TUTORIAL.md:3: excerpt differs" anchors "${WORK}")
expect(0 "--update rewrites stale excerpts" anchors "${WORK}" --update)
expect(0 "rewritten excerpts pass" anchors "${WORK}")
file(APPEND "${WORK}/TUTORIAL.md" "\n<!-- include: stages/01-one/server.cpp#gone -->\n```cpp\n```\n")
expect(1 "a reference to a missing anchor fails" MESSAGE "no anchor 'gone'" anchors "${WORK}")
expect(1 "--update cannot invent a missing anchor" anchors "${WORK}" --update)
file(WRITE "${WORK}/TUTORIAL.md" "<!-- include: stages/01-one/server.cpp#body -->\n\ntext\n")
expect(1 "an include without a code block fails" MESSAGE "not followed by a fenced code block" anchors "${WORK}")
file(APPEND "${WORK}/stages/01-one/server.cpp" "// ANCHOR: open\n")
expect(1 "an anchor that is never closed fails" MESSAGE "'open' is never closed" anchors "${WORK}" --update)
file(WRITE "${WORK}/stages/01-one/server.cpp" "int main() {}\n")
file(WRITE "${WORK}/TUTORIAL.md" "# nothing quoted\n")

# Embeds: a pasted markdown file must match its source.
file(WRITE "${WORK}/diagrams/table.md" "| a | b |\n| --- | --- |\n| 1 | 2 |\n")
file(WRITE "${WORK}/README.md" "# R\n<!-- embed: diagrams/table.md -->\n| a | b |\n<!-- embed:end -->\n")
expect(1 "a stale embed fails" MESSAGE "embedded copy of diagrams/table.md is stale" anchors "${WORK}")
expect(0 "--update refreshes the embed" anchors "${WORK}" --update)

# CHANGES.diff: missing, then generated, then stale after an edit, then regenerated.
find_program(DIFF diff)
if(DIFF)
  expect(1 "a missing CHANGES.diff fails" MESSAGE "CHANGES.diff: missing" changes "${WORK}")
  expect(0 "--update writes CHANGES.diff" changes "${WORK}" --update)
  expect(0 "a fresh CHANGES.diff passes" changes "${WORK}")
  file(APPEND "${WORK}/stages/02-two/server.cpp" "// one more line\n")
  expect(1 "a stale CHANGES.diff fails" MESSAGE "CHANGES.diff: stale" changes "${WORK}")
  expect(0 "--update regenerates CHANGES.diff" changes "${WORK}" --update)
  file(READ "${WORK}/stages/02-two/CHANGES.diff" patch)
  string(REGEX REPLACE "\n\\+\\+\\+ [^\n]*" "\n+++ stages/02-two/server.cpp\t2024-01-01 00:00:00" patch "${patch}")
  file(WRITE "${WORK}/stages/02-two/CHANGES.diff" "${patch}")
  expect(1 "a CHANGES.diff with a timestamp in its header fails" MESSAGE "no timestamps" changes "${WORK}")
  expect(0 "--update repairs the header" changes "${WORK}" --update)
  file(MAKE_DIRECTORY "${WORK}/stages/03-library")
  file(WRITE "${WORK}/stages/03-library/CHANGES.diff" "")
  expect(1 "a CHANGES.diff in a stage without server.cpp fails" MESSAGE "pair to describe" changes "${WORK}")
  file(REMOVE "${WORK}/stages/03-library/CHANGES.diff")
  # A single-file stage after the library is diffed against the last single-file stage.
  file(MAKE_DIRECTORY "${WORK}/stages/04-four")
  file(WRITE "${WORK}/stages/04-four/server.cpp" "int main() {\n    // ANCHOR: body\n    serve();\n}\n")
  expect(0 "--update writes the diff of a stage after the library" changes "${WORK}" --update)
  file(READ "${WORK}/stages/04-four/CHANGES.diff" patch)
  if(NOT patch MATCHES "^--- stages/02-two/server.cpp\n\\+\\+\\+ stages/04-four/server.cpp\n")
    message(FATAL_ERROR "the stage after the library is not diffed against stage 02:\n${patch}")
  endif()
  message(STATUS "ok: the stage after the library is diffed against the last single-file stage")
  file(REMOVE_RECURSE "${WORK}/stages/03-library" "${WORK}/stages/04-four")
else()
  message(STATUS "skipped the CHANGES.diff cases: no diff program")
endif()

# The matrix: a fake echo-conformance prints a fixed table.
file(WRITE "${WORK}/stages/01-one/expected-failures.txt" "")
file(WRITE "${WORK}/fake-conformance.sh" "#!/bin/sh\necho '| case | 01 |'\necho '| --- | --- |'\necho \"| args | $# |\"\n")
file(CHMOD "${WORK}/fake-conformance.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
file(WRITE "${WORK}/README.md" "# R\n<!-- matrix:begin -->\n| old |\n<!-- matrix:end -->\n")
expect(1 "a stale matrix fails" MESSAGE "matrix is stale" matrix "${WORK}" "${WORK}/fake-conformance.sh")
expect(0 "--update rewrites the matrix" matrix "${WORK}" "${WORK}/fake-conformance.sh" --update)
expect(0 "a fresh matrix passes" matrix "${WORK}" "${WORK}/fake-conformance.sh")
file(WRITE "${WORK}/README.md" "# R, no markers\n")
expect(1 "a matrix embedded nowhere fails" MESSAGE "no <!-- matrix:begin -->" matrix "${WORK}" "${WORK}/fake-conformance.sh")

# Links: relative files and #headings must exist.
file(WRITE "${WORK}/README.md" "# Top\n\n## Second part: `code`, too\n\nSee [here](#second-part-code-too) and [there](TUTORIAL.md).\n")
expect(0 "links to an existing file and heading pass" links "${WORK}")
file(APPEND "${WORK}/README.md" "Broken: [gone](#no-such-heading).\n")
expect(1 "a link to a missing heading fails" MESSAGE "no such heading" links "${WORK}")
file(WRITE "${WORK}/README.md" "[missing](stages/09-none/server.cpp)\n")
expect(1 "a link to a missing file fails" MESSAGE "no such file" links "${WORK}")

# Diagrams: the freshness check needs nothing but CMake.
file(COPY "${ROOT}/tests/docs/timeline.cpp" DESTINATION "${WORK}/tests/docs")
file(WRITE "${WORK}/diagrams/x.dot" "digraph { a -> b }\n")
file(WRITE "${WORK}/diagrams/x.svg" "<?xml version=\"1.0\"?>\n<svg/>\n")
execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${WORK} -DMODE=check -P ${ROOT}/tests/docs/diagrams.cmake
                RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
if(rc EQUAL 0)
  message(FATAL_ERROR "an SVG without its source's stamp passed the diagrams check")
endif()
message(STATUS "ok: an SVG without its source's stamp fails")

# Citations, failures tables and transcripts: a separate fake repository for each check.
set(T "${WORK}/text")
file(MAKE_DIRECTORY "${T}/tests/suite" "${T}/stages/01-one")
file(WRITE "${T}/tests/suite/cases_a.cpp" "// a case\nTEST_CASE(\"x\") {\n    CHECK_MESSAGE(n == 2,\n                  \"n is \" << n);\n}\n")
file(WRITE "${T}/README.md" "```text\n  cases_a.cpp:3: check failed: n == 2  (values: 1 == 2)\n```\n")
expect(0 "a citation of the line that holds the expression passes" citations "${T}")
file(WRITE "${T}/README.md" "```text\n  cases_a.cpp:2: check failed: n == 2  (values: 1 == 2)\n```\n")
expect(1 "a citation one line off fails" MESSAGE "cases_a.cpp:2 does not hold 'n == 2' \\(it is on line 3\\)" citations "${T}")
file(WRITE "${T}/README.md" "See tests/suite/cases_a.cpp:9 and cases_b.cpp:1.\n")
expect(1 "a citation past the end of its file fails" MESSAGE "has 5 lines" citations "${T}")
expect(1 "a citation of a file that does not exist fails" MESSAGE "cases_b.cpp:1: no file of that name" citations "${T}")
file(WRITE "${T}/README.md" "# R\n")

file(WRITE "${T}/stages/01-one/expected-failures.txt"
     "# a comment\nbasic: one thing -- because\nmultiaddr: two -- because\nmultiaddr: three -- because\n")
set(table "| Why | Cases |\n| --- | --- |\n| one | `basic: one` |\n| many | `multiaddr:` |\n")
file(WRITE "${T}/TUTORIAL.md" "<!-- failures: stages/01-one/expected-failures.txt -->\n${table}")
expect(0 "a failures table that names every listed case once passes" failures "${T}")
file(APPEND "${T}/stages/01-one/expected-failures.txt" "concurrency: four -- because\n")
expect(1 "a listed case missing from the table fails" MESSAGE "'concurrency: four' is in no row" failures "${T}")
file(WRITE "${T}/TUTORIAL.md" "<!-- failures: stages/01-one/expected-failures.txt -->\n${table}| x | `concurrency: four` `scale: five…` |\n")
expect(1 "a table entry that starts no listed case fails" MESSAGE "`scale: five` starts no case" failures "${T}")
file(WRITE "${T}/TUTORIAL.md" "<!-- failures: stages/01-one/expected-failures.txt -->\n${table}| x | `concurrency: four` `multiaddr: two` |\n")
expect(1 "a case in two rows fails" MESSAGE "'multiaddr: two' is in 2 rows" failures "${T}")
file(WRITE "${T}/TUTORIAL.md" "# Chapter 1, with no table\n")
expect(1 "a stage whose failures no table in TUTORIAL.md explains fails"
       MESSAGE "lists cases no table in TUTORIAL.md explains" failures "${T}")
file(WRITE "${T}/TUTORIAL.md" "<!-- failures: stages/01-one/expected-failures.txt -->\n${table}| x | `concurrency: four` |\n\n"
                              "<!-- include: stages/01-one/expected-failures.txt -->\n```text\n```\n")
expect(1 "a copy of a stage's list in TUTORIAL.md fails" MESSAGE "a copy of stages/01-one/expected-failures.txt"
       failures "${T}")
file(REMOVE "${T}/TUTORIAL.md")

file(WRITE "${T}/fake-server.sh" "#!/bin/sh\necho 'listening on tcp://127.0.0.1:5555'\nexec sleep 30\n")
file(CHMOD "${T}/fake-server.sh" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
file(WRITE "${T}/README.md" "<!-- transcript -->\n```text\n$ printf '%s\\n' a \\\n    b\na\nb\n$ echo took '(1.23 s)'\ntook (0.50 s)\n```\n")
expect(0 "a transcript that prints what the page shows passes" transcripts "${T}" "${T}" 2)
file(WRITE "${T}/README.md" "<!-- transcript -->\n```text\n$ echo hello\nhullo\n```\n")
expect(1 "a transcript whose output changed fails" MESSAGE "prints something else" transcripts "${T}" "${T}" 2)
file(WRITE "${T}/README.md" "<!-- transcript -->\n```text\n$ sleep 10\n```\n")
expect(1 "a command that never finishes fails" MESSAGE "did not finish within" transcripts "${T}" "${T}" 0.3)
file(WRITE "${T}/README.md" "<!-- transcript: server=fake-server.sh -->\n```text\n$ echo build/bin/x 127.0.0.1:5000\n${T}/x 127.0.0.1:5555\n```\n")
expect(0 "a transcript talks to its server on the port it announced" transcripts "${T}" "${T}" 2)
file(WRITE "${T}/README.md" "<!-- transcript: needs=no-such-tool-here -->\n```text\n$ no-such-tool-here\n```\n")
expect(77 "a transcript whose tool is missing says skipped" MESSAGE "" transcripts "${T}" "${T}" 2)
file(WRITE "${T}/README.md" "# R\n")

# The recorded traces: a timeline or trace that no longer matches what record.sh records
# from the stages fails (only where the stages are built). Stage 05's diagram is checked too
# where stage05-echo is built and io_uring is not refused.
if(BIN_DIR AND EXISTS "${BIN_DIR}/stage02-echo" AND EXISTS "${BIN_DIR}/stage03-echo")
  set(D "${WORK}/traces")
  file(MAKE_DIRECTORY "${D}/diagrams/traces")
  file(COPY "${ROOT}/diagrams/lt-vs-et.timeline" "${ROOT}/diagrams/readiness-vs-completion.timeline"
       DESTINATION "${D}/diagrams")
  file(GLOB committed "${ROOT}/diagrams/traces/*")
  file(COPY ${committed} DESTINATION "${D}/diagrams/traces")
  # expect_traces(<exit code> <diagram> <description>): 77 from record.sh (io_uring refused)
  # skips the case instead.
  function(expect_traces code diagram what)
    execute_process(COMMAND bash "${D}/diagrams/traces/record.sh" --check "${BIN_DIR}/.." ${diagram}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(rc EQUAL 77)
      message(STATUS "skipped: ${what}: ${err}")
      return()
    endif()
    if(NOT rc EQUAL code)
      message(FATAL_ERROR "${what}: expected exit ${code}, got ${rc}\n${out}${err}")
    endif()
    message(STATUS "ok: ${what}")
  endfunction()
  # breaks(<file under diagrams/> <text> <replacement>): edits the scratch copy.
  function(breaks file from to)
    file(READ "${D}/diagrams/${file}" text)
    string(REPLACE "${from}" "${to}" broken "${text}")
    if(broken STREQUAL text)
      message(FATAL_ERROR "the selftest cannot break diagrams/${file}: no '${from}' in it")
    endif()
    file(WRITE "${D}/diagrams/${file}" "${broken}")
  endfunction()
  set(diagrams lt-vs-et)
  if(EXISTS "${BIN_DIR}/stage05-echo")
    list(APPEND diagrams readiness-vs-completion)
  else()
    message(STATUS "skipped the stage 05 traces cases: no stage05-echo in BIN_DIR")
  endif()
  foreach(diagram ${diagrams})
    expect_traces(0 ${diagram} "${diagram}: the committed traces and timeline are what record.sh records")
    file(APPEND "${D}/diagrams/${diagram}.timeline" "note s3: `drawn by hand`\n")
    expect_traces(1 ${diagram} "${diagram}: a timeline edited by hand fails")
    file(COPY "${ROOT}/diagrams/${diagram}.timeline" DESTINATION "${D}/diagrams")
  endforeach()
  breaks(traces/stage02-100000.trace "65536" "16384")
  expect_traces(1 lt-vs-et "lt-vs-et: a trace the stage no longer prints fails")
  if(EXISTS "${BIN_DIR}/stage05-echo")
    breaks(traces/stage05-100000.trace "in buffer 1" "in buffer 9")
    expect_traces(1 readiness-vs-completion "readiness-vs-completion: a trace the stage no longer prints fails")
  endif()
else()
  message(STATUS "skipped the traces cases: no stage02-echo and stage03-echo in BIN_DIR")
endif()
