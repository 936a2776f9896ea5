-- wrk script for bench/http.ts: sends PIPELINE requests (default 10) per write, like autocannon -p.
init = function(args)
  local depth = tonumber(os.getenv("PIPELINE") or "10")
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, "/") end
  req = table.concat(r)
end
request = function() return req end
