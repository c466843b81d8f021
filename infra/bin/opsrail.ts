import { App } from 'aws-cdk-lib';
import { buildApp } from '../app';

const app = new App();
try {
  buildApp(app);
} catch (error) {
  console.error(`opsrail: ${(error as Error).message}`);
  process.exit(1);
}
