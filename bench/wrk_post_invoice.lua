-- wrk script for POST /invoices: a JSON body with an invoice number unique to this run,
-- this thread and this request, so every request creates a new invoice (a 409 for a
-- reused number would count as an error).
-- Arguments (after --): the bearer token, the client id, a prefix unique to the run.

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
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Bearer " .. token
end

function request()
   counter = counter + 1
   local body = string.format(
      '{"client_id": %s, "number": "%s-%d-%d", "amount": "1250.00", ' ..
      '"due_date": "2031-06-30", "notes": "bench"}',
      client_id, prefix, thread_id, counter)
   return wrk.format(nil, nil, nil, body)
end
