-- wrk script: POST /predict_risk with the JSON body in the file $SEQLORA_BENCH_BODY; non-200 answers are printed.
local f = assert(io.open(os.getenv("SEQLORA_BENCH_BODY"), "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("non-200: " .. status .. " " .. body .. "\n")
  end
end
