-- wrk script: /roster and /my_class with random ids from the default seed
math.randomseed(42)
request = function()
  if math.random() < 0.5 then
    return wrk.format("GET", "/roster?class_id=" .. math.random(1, 1000))
  end
  return wrk.format("GET", "/my_class?student_id=" .. math.random(1, 10000))
end
