-- wrk script: each request takes a random line of the file in REQUESTS_FILE
-- (`token<TAB>path`, or `token<TAB>path<TAB>body` for PATCH/POST) and sends it with the
-- method in REQUESTS_METHOD. Non-2xx answers are counted by wrk ("Non-2xx").
local file = os.getenv("REQUESTS_FILE")
local method = os.getenv("REQUESTS_METHOD") or "GET"
local sequential = os.getenv("REQUESTS_SEQUENTIAL") == "1"
-- Requests are formatted once, here, not per request: wrk shares the machine's cores
-- with the server and PostgreSQL, and formatting in Lua on every request would take CPU
-- time from them (pgbench, the yardstick, sends prebuilt statements from C).
local lines = {}
for line in io.lines(file) do
  local token, path, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
  if token then
    local headers = {["Authorization"] = "Bearer " .. token}
    if body == "" then
      body = nil
    else
      headers["Content-Type"] = "application/json"
    end
    lines[#lines + 1] = wrk.format(method, path, headers, body)
  end
end
local counter = 0
-- `start_at` is a global on purpose: setup() writes it into each thread's state with
-- thread:set, which a local of the same name would shadow.
start_at = 0
local threads = 0
local all_threads = {}

function setup(thread)
  -- Threads start at evenly spaced points of the file, so in sequential mode their
  -- strides do not overlap for the length of a run.
  thread:set("start_at", threads * math.floor(#lines / 2))
  threads = threads + 1
  all_threads[#all_threads + 1] = thread
end

-- With REQUESTS_COUNT_STATUS=1, count answers by status and print them at the end
-- ("status 409: 12"), so a scenario's non-2xx answers can be told apart.
if os.getenv("REQUESTS_COUNT_STATUS") == "1" then
  counts = {}
  function response(status, headers, body)
    counts[status] = (counts[status] or 0) + 1
  end
  function done(summary, latency, requests)
    local total = {}
    for _, t in ipairs(all_threads) do
      for status, n in pairs(t:get("counts")) do
        total[status] = (total[status] or 0) + n
      end
    end
    for status, n in pairs(total) do
      print("status " .. status .. ": " .. n)
    end
  end
end

function init(args)
  start_at = tonumber(start_at) or 0
  math.randomseed(os.time() + start_at)
end

function request()
  local item
  if sequential then
    -- Each thread walks its own stride of the file, so no line is sent twice.
    counter = counter + 1
    item = lines[((start_at + counter) % #lines) + 1]
  else
    item = lines[math.random(1, #lines)]
  end
  return item
end
