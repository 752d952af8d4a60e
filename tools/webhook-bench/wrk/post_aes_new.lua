-- (c') POST safe-mode text messages, every one new: a pool of distinct encrypted messages
-- (gen_wrk_data.py --n-aes-new), split between the threads and walked once.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install("post_aes_new", function(D)
  local r, h = {}, { ["Content-Type"] = "text/xml" }
  for _, m in ipairs(D.aes_new) do r[#r + 1] = wrk.format("POST", D.path .. "?" .. m[1], h, m[2]) end
  return r
end, true)
