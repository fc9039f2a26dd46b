-- wrk script for bench/api_run.sh: POST /v1/check with bodies read from a file (one JSON body
-- per line), cycling through them; the key comes from the SCHOON_KEY environment variable.
-- Usage: wrk ... -s bench/wrk_check.lua http://127.0.0.1:PORT -- QUERY_FILE
local bodies = {}
local i = 0
local key = os.getenv("SCHOON_KEY")

function init(args)
  for line in io.lines(args[1]) do
    bodies[#bodies + 1] = line
  end
  -- Each wrk thread starts at a different place.
  i = math.random(#bodies)
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/check", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. key,
  }, bodies[i])
end

local errors = 0
function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    if errors <= 3 then
      io.stderr:write("status " .. status .. ": " .. body .. "\n")
    end
  end
end
