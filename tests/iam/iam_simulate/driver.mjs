// Answers IAM requests with @cloud-copilot/iam-simulate, one JSON line in, one JSON line out.
//
// In:  {"identity": [policy, ...], "boundary": [policy, ...] | null, "action": "s3:GetObject",
//       "resource": "arn:aws:s3:::bucket/key", "context": {"aws:SourceVpce": "vpce-1"} | absent}
// Out: {"result": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied"} or {"error": {...}}
//
// The request is made by a role in the account that owns the resource, with no resource
// policy or SCP, and only the context keys given: what is left is the identity-policy (and
// boundary) decision.
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ACCOUNT = '111122223333'
const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/checked-role`

async function decide(request) {
  const simulation = {
    request: {
      principal: PRINCIPAL,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: request.context || {}
    },
    identityPolicies: request.identity.map((policy, i) => ({ name: `identity-${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  if (request.boundary) {
    simulation.permissionBoundaryPolicies = request.boundary.map((policy, i) => ({
      name: `boundary-${i}`,
      policy
    }))
  }
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { error: response.errors }
  }
  return { result: response.overallResult, kind: response.resultType }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  let answer
  try {
    answer = await decide(JSON.parse(line))
  } catch (err) {
    answer = { error: { message: String(err && err.stack ? err.stack : err) } }
  }
  process.stdout.write(JSON.stringify(answer) + '\n')
}
