/**
 * mesos.v1.scheduler: the Call a framework sends, the Event it receives, and the Response to a call
 * that answers at once.
 * Mantle's own wire definitions (docs/protocol-and-resources.md, "Protobuf"): the messages and fields
 * Mantle's JSON schemas accept and emit, with Mesos's package, message and field names and Mesos's field
 * numbers and types (the wire contract). Fields Mantle adds are numbered from 1000.
 */
export const MESOS_V1_SCHEDULER_PROTO = `syntax = "proto2";
package mesos.v1.scheduler;

message Event {
  enum Type {
    UNKNOWN = 0;
    SUBSCRIBED = 1;
    OFFERS = 2;
    INVERSE_OFFERS = 9;
    RESCIND = 3;
    RESCIND_INVERSE_OFFER = 10;
    UPDATE = 4;
    UPDATE_OPERATION_STATUS = 11;
    MESSAGE = 5;
    FAILURE = 6;
    ERROR = 7;
    HEARTBEAT = 8;
  }
  message Subscribed {
    required mesos.v1.FrameworkID framework_id = 1;
    optional double heartbeat_interval_seconds = 2;
    optional mesos.v1.MasterInfo master_info = 3;
  }
  message Offers {
    repeated mesos.v1.Offer offers = 1;
  }
  message InverseOffers {
    repeated mesos.v1.InverseOffer inverse_offers = 1;
  }
  message Rescind {
    required mesos.v1.OfferID offer_id = 1;
  }
  message RescindInverseOffer {
    required mesos.v1.OfferID inverse_offer_id = 1;
  }
  message Update {
    required mesos.v1.TaskStatus status = 1;
  }
  message UpdateOperationStatus {
    required mesos.v1.OperationStatus status = 1;
  }
  message Message {
    required mesos.v1.AgentID agent_id = 1;
    required mesos.v1.ExecutorID executor_id = 2;
    required bytes data = 3;
  }
  message Failure {
    optional mesos.v1.AgentID agent_id = 1;
    optional mesos.v1.ExecutorID executor_id = 2;
    optional int32 status = 3;
  }
  message Error {
    required string message = 1;
  }
  optional Event.Type type = 1;
  optional Event.Subscribed subscribed = 2;
  optional Event.Offers offers = 3;
  optional Event.InverseOffers inverse_offers = 9;
  optional Event.Rescind rescind = 4;
  optional Event.RescindInverseOffer rescind_inverse_offer = 10;
  optional Event.Update update = 5;
  optional Event.UpdateOperationStatus update_operation_status = 11;
  optional Event.Message message = 6;
  optional Event.Failure failure = 7;
  optional Event.Error error = 8;
}

message AttributeConstraint {
  message Selector {
    enum PseudoattributeType {
      UNKNOWN = 0;
      HOSTNAME = 1;
      REGION = 2;
      ZONE = 3;
    }
    optional AttributeConstraint.Selector.PseudoattributeType pseudoattribute_type = 1;
    optional string attribute_name = 2;
  }
  message Predicate {
    message Exists {
    }
    message NotExists {
    }
    message TextEquals {
      required string value = 1;
    }
    message TextNotEquals {
      required string value = 1;
    }
    message TextMatches {
      required string regex = 1;
    }
    message TextNotMatches {
      required string regex = 1;
    }
    optional AttributeConstraint.Predicate.Exists exists = 1;
    optional AttributeConstraint.Predicate.NotExists not_exists = 2;
    optional AttributeConstraint.Predicate.TextEquals text_equals = 3;
    optional AttributeConstraint.Predicate.TextNotEquals text_not_equals = 4;
    optional AttributeConstraint.Predicate.TextMatches text_matches = 5;
    optional AttributeConstraint.Predicate.TextNotMatches text_not_matches = 6;
  }
  required AttributeConstraint.Selector selector = 1;
  required AttributeConstraint.Predicate predicate = 2;
}

message OfferConstraints {
  message RoleConstraints {
    message Group {
      repeated AttributeConstraint attribute_constraints = 1;
    }
    repeated OfferConstraints.RoleConstraints.Group groups = 1;
  }
  map<string, OfferConstraints.RoleConstraints> role_constraints = 1;
}

message Call {
  enum Type {
    UNKNOWN = 0;
    SUBSCRIBE = 1;
    TEARDOWN = 2;
    ACCEPT = 3;
    DECLINE = 4;
    ACCEPT_INVERSE_OFFERS = 13;
    DECLINE_INVERSE_OFFERS = 14;
    REVIVE = 5;
    KILL = 6;
    SHUTDOWN = 7;
    ACKNOWLEDGE = 8;
    ACKNOWLEDGE_OPERATION_STATUS = 15;
    RECONCILE = 9;
    RECONCILE_OPERATIONS = 16;
    MESSAGE = 10;
    REQUEST = 11;
    SUPPRESS = 12;
    UPDATE_FRAMEWORK = 17;
    // Mantle: why the framework's roles get no offers.
    GET_PENDING_REASONS = 1000;
  }
  message Subscribe {
    required mesos.v1.FrameworkInfo framework_info = 1;
    repeated string suppressed_roles = 2;
    optional OfferConstraints offer_constraints = 3;
  }
  message Accept {
    repeated mesos.v1.OfferID offer_ids = 1;
    repeated mesos.v1.Offer.Operation operations = 2;
    optional mesos.v1.Filters filters = 3;
  }
  message Decline {
    repeated mesos.v1.OfferID offer_ids = 1;
    optional mesos.v1.Filters filters = 2;
  }
  message AcceptInverseOffers {
    repeated mesos.v1.OfferID inverse_offer_ids = 1;
    optional mesos.v1.Filters filters = 2;
  }
  message DeclineInverseOffers {
    repeated mesos.v1.OfferID inverse_offer_ids = 1;
    optional mesos.v1.Filters filters = 2;
  }
  message Revive {
    repeated string roles = 1;
  }
  message Kill {
    required mesos.v1.TaskID task_id = 1;
    optional mesos.v1.AgentID agent_id = 2;
    optional mesos.v1.KillPolicy kill_policy = 3;
  }
  message Shutdown {
    required mesos.v1.ExecutorID executor_id = 1;
    required mesos.v1.AgentID agent_id = 2;
  }
  message Acknowledge {
    required mesos.v1.AgentID agent_id = 1;
    required mesos.v1.TaskID task_id = 2;
    required bytes uuid = 3;
  }
  message AcknowledgeOperationStatus {
    optional mesos.v1.AgentID agent_id = 1;
    optional mesos.v1.ResourceProviderID resource_provider_id = 2;
    required bytes uuid = 3;
    required mesos.v1.OperationID operation_id = 4;
  }
  message Reconcile {
    message Task {
      required mesos.v1.TaskID task_id = 1;
      optional mesos.v1.AgentID agent_id = 2;
    }
    repeated Call.Reconcile.Task tasks = 1;
  }
  message ReconcileOperations {
    message Operation {
      required mesos.v1.OperationID operation_id = 1;
      optional mesos.v1.AgentID agent_id = 2;
      optional mesos.v1.ResourceProviderID resource_provider_id = 3;
    }
    repeated Call.ReconcileOperations.Operation operations = 1;
  }
  message Message {
    required mesos.v1.AgentID agent_id = 1;
    required mesos.v1.ExecutorID executor_id = 2;
    required bytes data = 3;
  }
  message Request {
    repeated mesos.v1.Request requests = 1;
  }
  message Suppress {
    repeated string roles = 1;
  }
  message UpdateFramework {
    required mesos.v1.FrameworkInfo framework_info = 1;
    repeated string suppressed_roles = 2;
    optional OfferConstraints offer_constraints = 3;
  }
  optional mesos.v1.FrameworkID framework_id = 1;
  optional Call.Type type = 2;
  optional Call.Subscribe subscribe = 3;
  optional Call.Accept accept = 4;
  optional Call.Decline decline = 5;
  optional Call.AcceptInverseOffers accept_inverse_offers = 13;
  optional Call.DeclineInverseOffers decline_inverse_offers = 14;
  optional Call.Revive revive = 15;
  optional Call.Kill kill = 6;
  optional Call.Shutdown shutdown = 7;
  optional Call.Acknowledge acknowledge = 8;
  optional Call.AcknowledgeOperationStatus acknowledge_operation_status = 17;
  optional Call.Reconcile reconcile = 9;
  optional Call.ReconcileOperations reconcile_operations = 18;
  optional Call.Message message = 10;
  optional Call.Request request = 11;
  optional Call.Suppress suppress = 16;
  optional Call.UpdateFramework update_framework = 19;
}

message Response {
  enum Type {
    UNKNOWN = 0;
    RECONCILE_OPERATIONS = 1;
    // Mantle's.
    GET_PENDING_REASONS = 1000;
  }
  optional Response.Type type = 1;
  // Mantle's.
  optional mantle.v1.PendingReasons get_pending_reasons = 1000;
}
`;
