-- (b') POST plaintext text messages, every one new (a MsgId never sent before): each request a
-- first delivery. The signature covers token, timestamp and nonce only, so the body can change
-- per request; MsgIds are numbered per thread from the pool's base.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local C = dofile(dir .. "common.lua")
C.install("post_plain_new", function(D)
  local r, h = {}, { ["Content-Type"] = "text/xml" }
  local query, body = D.plain[1][1], D.plain[1][2]
  local base = tonumber(body:match("<MsgId>(%d+)</MsgId>")) + 10000000 * ((thread_index or 0) + 1)
  for j = 1, D.n_unique do
    local b = body:gsub("<MsgId>%d+</MsgId>", "<MsgId>" .. string.format("%d", base + j) .. "</MsgId>")
    r[#r + 1] = wrk.format("POST", D.path .. "?" .. query, h, b)
  end
  return r
end, true)
