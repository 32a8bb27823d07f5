// Demo personas for the dev login: real ids of the demo data (devtools/demo.py customers' account
// managers, notify's directory people), so alerts, queues and deliveries line up with them.
import type { Role } from "./session";

export interface Persona {
  subject: string;
  name: string;
  roles: Role[];
  /** a partner SI engineer's partner (the token's `partner` claim: the EOMS bridge shows its tasks only) */
  partner?: string;
}

export const PERSONAS: readonly Persona[] = [
  { subject: "am_zhang", name: "张伟", roles: ["account_manager"] },
  { subject: "am_li", name: "王芳", roles: ["account_manager"] },
  { subject: "p-wanglei", name: "王磊", roles: ["network_staff", "network_resource"] },
  { subject: "p-zhaomin", name: "赵敏", roles: ["network_staff", "network_resource"] },
  { subject: "p-sunhao", name: "孙浩", roles: ["network_staff", "field_engineer"] },
  { subject: "p-liuyang", name: "刘洋", roles: ["supervisor"] },
  { subject: "p-lina", name: "李娜", roles: ["supervisor"] },
  { subject: "p-zhoutao", name: "周涛", roles: ["department_head"] },
  { subject: "p-majun", name: "马骏", roles: ["dispatcher"] },
  { subject: "p-liangyu", name: "梁宇", roles: ["partner_si"], partner: "huawei" },
  { subject: "p-caoyang", name: "曹阳", roles: ["admin"] },
];
