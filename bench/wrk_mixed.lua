-- wrk script for the memory benchmark: a mix of what a client does all day.
-- 2 in 5 requests list a page of invoices (at a varying offset), 2 in 5 read one invoice,
-- 1 in 5 creates one (with a number unique to the run, the thread and the request).
-- Arguments (after --): the bearer token, the client id, a prefix unique to the run, the
-- number of invoices to read among (ids 1..N).

local counter = 0
local next_id = 0

function setup(thread)
   next_id = next_id + 1
   thread:set("thread_id", next_id)
end

function init(args)
   token = args[1]
   client_id = args[2]
   prefix = args[3]
   invoices = tonumber(args[4])
   wrk.headers["Authorization"] = "Bearer " .. token
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local kind = counter % 5
   if kind == 0 then
      local body = string.format(
         '{"client_id": %s, "number": "%s-%d-%d", "amount": "99.50", "due_date": "2031-03-31"}',
         client_id, prefix, thread_id, counter)
      return wrk.format("POST", "/invoices", nil, body)
   elseif kind == 1 or kind == 3 then
      return wrk.format("GET", string.format("/invoices?limit=10&offset=%d", counter % 200))
   else
      return wrk.format("GET", string.format("/invoices/%d", 1 + (counter * 7919) % invoices))
   end
end
