/**
 * AWS list prices the cost bench (bench/cost.ts) multiplies its measured figures by: us-east-1, on
 * demand, no free tier, in US dollars per unit. Written down on 2026-12-02 from the published
 * prices as known then (no network where this was written: not re-read from the pages that day).
 * Check every value against its page below whenever this file is updated; the date says how old
 * they are.
 */
export const PRICES_AS_OF = '2026-12-02';

export const PRICES = {
  /**
   * https://aws.amazon.com/step-functions/pricing/ : Standard workflows, $0.025 per 1,000 state
   * transitions.
   */
  stepFunctionsStandardPerTransition: 0.025 / 1000,
  /** https://aws.amazon.com/lambda/pricing/ : requests, $0.20 per 1M (either architecture). */
  lambdaPerRequest: 0.2 / 1_000_000,
  /** https://aws.amazon.com/lambda/pricing/ : duration on arm64, first tier, per GB-second. */
  lambdaArmPerGbSecond: 0.0000133334,
  /**
   * https://aws.amazon.com/dynamodb/pricing/on-demand/ : Standard table class, $0.125 per 1M read
   * request units (halved from $0.25 on 2024-11-01).
   */
  dynamodbPerReadRequestUnit: 0.125 / 1_000_000,
  /**
   * https://aws.amazon.com/dynamodb/pricing/on-demand/ : Standard table class, $0.625 per 1M write
   * request units (halved from $1.25 on 2024-11-01).
   */
  dynamodbPerWriteRequestUnit: 0.625 / 1_000_000,
  /**
   * https://aws.amazon.com/s3/pricing/ (Requests & data retrievals): S3 Standard, PUT, COPY, POST,
   * LIST requests, $0.005 per 1,000.
   */
  s3PerPutCopyPostListRequest: 0.005 / 1000,
  /**
   * https://aws.amazon.com/s3/pricing/ (Requests & data retrievals): S3 Standard, GET, SELECT and
   * all other requests (HEAD among them), $0.0004 per 1,000.
   */
  s3PerGetRequest: 0.0004 / 1000,
  /**
   * https://aws.amazon.com/cloudwatch/pricing/ (Logs): ingestion into the Standard log class,
   * $0.50 per GB.
   */
  cloudwatchLogsIngestionPerGb: 0.5,
  /** https://aws.amazon.com/xray/pricing/ : traces recorded, $5.00 per 1M. */
  xrayPerTraceRecorded: 5 / 1_000_000,
} as const;
