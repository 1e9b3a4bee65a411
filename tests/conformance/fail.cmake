# A test that fails with MESSAGE: stands in for a stage whose binaries are not built.
message(FATAL_ERROR "${MESSAGE}")
