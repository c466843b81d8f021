import type { Template } from 'aws-cdk-lib/assertions';

/** One statement of an IAM policy document, as a synthesized template holds it. */
export type IamStatement = { Effect?: string; Action: string | string[]; Resource: unknown };

/** A statement's actions, whether the template wrote one or a list. */
export const actionsOf = (s: IamStatement): string[] =>
  Array.isArray(s.Action) ? s.Action : [s.Action];

/** Every statement of the policies attached to a role whose logical id starts with `rolePrefix`. */
export function statementsFor(template: Template, rolePrefix: string): IamStatement[] {
  return (Object.values(template.findResources('AWS::IAM::Policy')) as any[])
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as IamStatement[]);
}
