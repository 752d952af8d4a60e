-- (c') POST safe-mode text messages, every one new: a pool of distinct encrypted messages
-- (gen_wrk_data.py --n-unique, one "query<TAB>body" line each), split between the threads and
-- walked once.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install("post_aes_new", function(D)
  local r, h = {}, { ["Content-Type"] = "text/xml" }
  for line in io.lines(D.aes_new_file) do
    local query, body = line:match("^([^\t]*)\t(.*)$")
    r[#r + 1] = wrk.format("POST", D.path .. "?" .. query, h, body)
  end
  return r
end, true)
