'use strict';
// A handler for `zbctl create worker --handler`: zbctl writes the job's
// variables to stdin and completes the job with the JSON object printed on
// stdout. Usage: node zbctl-handler.js <variableName>
// Prints {"<variableName>": {"orderId": <the job's orderId>, "saw": [names of
// the variables the job carried, sorted]}}.
const name = process.argv[2];
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const vars = input.trim() ? JSON.parse(input) : {};
  process.stdout.write(JSON.stringify({ [name]: { orderId: vars.orderId, saw: Object.keys(vars).sort() } }));
});
