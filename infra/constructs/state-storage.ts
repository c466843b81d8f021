import type { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { stageResourceNames } from '../../contracts/resource-names';
import { idempotencyTable, stateTable } from '../../functions/adapters/table-layout';

export interface StateStorageProps {
  stage: string;
  removalPolicy: RemovalPolicy;
  deletionProtection: boolean;
}

/** The state table (job state, run claims, chain heads) and the Powertools idempotency table. */
export class StateStorage extends Construct {
  readonly stateTable: Table;
  readonly idempotencyTable: Table;

  constructor(scope: Construct, id: string, props: StateStorageProps) {
    super(scope, id);
    this.stateTable = new Table(this, 'State', {
      tableName: stageResourceNames(props.stage).stateTable,
      partitionKey: { name: stateTable.partitionKey, type: AttributeType.STRING },
      sortKey: { name: stateTable.sortKey, type: AttributeType.STRING },
      // Notification ledger items expire (docs/notifications.md#idempotency); others carry no ttl.
      timeToLiveAttribute: stateTable.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
    this.idempotencyTable = new Table(this, 'Idempotency', {
      tableName: stageResourceNames(props.stage).idempotencyTable,
      partitionKey: { name: idempotencyTable.partitionKey, type: AttributeType.STRING },
      timeToLiveAttribute: idempotencyTable.ttlAttribute,
      billingMode: BillingMode.PAY_PER_REQUEST,
      encryption: TableEncryption.AWS_MANAGED,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: props.deletionProtection,
      removalPolicy: props.removalPolicy,
    });
  }
}
