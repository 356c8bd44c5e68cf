-- wrk script for the benchmark: checks every response and, optionally, sets a header.
--
--   wrk ... -s check.lua URL -- [HEADER FILE [rotate]]
--
-- HEADER FILE     every request carries "HEADER: <first line of FILE>"
-- HEADER FILE rotate
--                 request i carries line i of FILE (a pool of bearer tokens, each
--                 thread starting at a different place), so tokens are not repeated
--                 until the pool is used up
-- A response counts as good only when it is the upstream's: status 200, body "ok".
-- done() prints one line "BENCH_RESULT {json}" with the counts and the latency
-- distribution (microseconds), which bench/run.sh collects.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local function read_lines(path)
  local lines = {}
  local f = assert(io.open(path, "r"))
  for line in f:lines() do
    if line ~= "" then lines[#lines + 1] = line end
  end
  f:close()
  assert(#lines > 0, path .. " is empty")
  return lines
end

local pool, pool_header, pos

local function next_token()
  pos = pos % #pool + 1
  wrk.headers[pool_header] = pool[pos]
  return wrk.format()
end

function init(args)
  bad, bad_status, bad_body = 0, 0, 0
  first_bad = ""
  local header, file, mode = args[1], args[2], args[3]
  if header then
    local lines = read_lines(file)
    if mode == "rotate" then
      pool, pool_header = lines, header
      pos = (id * math.floor(#lines / 2)) % #lines   -- the two threads start half a pool apart
      -- Only a rotating pool defines request(): without it wrk sends one prebuilt
      -- request again and again, which costs the load generator least.
      request = next_token
    else
      wrk.headers[header] = lines[1]
    end
  end
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    bad_status = bad_status + 1
    if first_bad == "" then first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 80) end
  elseif body ~= "ok" then
    bad = bad + 1
    bad_body = bad_body + 1
    if first_bad == "" then first_bad = "200 with body " .. string.sub(body or "", 1, 80) end
  end
end

local function q(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local total_bad, total_status, total_body, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    total_status = total_status + t:get("bad_status")
    total_body = total_body + t:get("bad_body")
    if first == "" then first = t:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"non_ok":%d,"non_200":%d,"bad_body":%d,'
      .. '"first_non_ok":%s,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes, total_bad, total_status, total_body, q(first),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
