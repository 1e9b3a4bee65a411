-- Checks every response wrk receives: status 200 and a body of the expected size.
--   wrk -t1 -c50 -d2s -s tests/bench/wrk_check.lua URL -- EXPECTED_BODY_BYTES
-- Prints "checked N bad M" at the end; wrk itself counts only statuses over 399.
-- A response() function makes wrk parse every body for Lua, which slows it: use this for
-- a verification run, not the timed one.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    expected = tonumber(args[1])
    checked = 0
    bad = 0
end

function response(status, headers, body)
    checked = checked + 1
    if status ~= 200 or #body ~= expected then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local total_checked, total_bad = 0, 0
    for _, thread in ipairs(threads) do
        total_checked = total_checked + thread:get("checked")
        total_bad = total_bad + thread:get("bad")
    end
    io.write(string.format("checked %d bad %d\n", total_checked, total_bad))
end
