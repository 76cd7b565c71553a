-- wrk script: each request takes a random line of the file in REQUESTS_FILE
-- (`token<TAB>path`, or `token<TAB>path<TAB>body` for PATCH/POST) and sends it with the
-- method in REQUESTS_METHOD. Non-2xx answers are counted by wrk ("Non-2xx").
local file = os.getenv("REQUESTS_FILE")
local method = os.getenv("REQUESTS_METHOD") or "GET"
local sequential = os.getenv("REQUESTS_SEQUENTIAL") == "1"
local lines = {}
for line in io.lines(file) do
  local token, path, body = line:match("^([^\t]+)\t([^\t]+)\t?(.*)$")
  if token then lines[#lines + 1] = {token, path, body} end
end
local counter = 0
local offset = 0
local threads = 0

function setup(thread)
  -- Threads start at evenly spaced points of the file, so in sequential mode their
  -- strides do not overlap for the length of a run.
  thread:set("offset", threads * math.floor(#lines / 2))
  threads = threads + 1
end

function init(args)
  offset = tonumber(offset) or 0
  math.randomseed(os.time() + offset)
end

function request()
  local item
  if sequential then
    -- Each thread walks its own stride of the file, so no line is sent twice.
    counter = counter + 1
    item = lines[((offset + counter) % #lines) + 1]
  else
    item = lines[math.random(1, #lines)]
  end
  local headers = {["Authorization"] = "Bearer " .. item[1]}
  local body = nil
  if item[3] ~= nil and item[3] ~= "" then
    headers["Content-Type"] = "application/json"
    body = item[3]
  end
  return wrk.format(method, item[2], headers, body)
end
